import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { SqsEventSourcePoller } from '../../local/event-sources/sqs-poller';
import { enqueue, type QueuePair, receiveAll, REGION, type StackUnderTest, startStackUnderTest } from '../support/stack-under-test';
import { eventually } from '../support/local-runtime';

let stack: StackUnderTest;
const pollers: SqsEventSourcePoller[] = [];

beforeAll(async () => {
  stack = await startStackUnderTest();
}, 60_000);

afterAll(async () => {
  await Promise.all(pollers.map((poller) => poller.stop()));
  await stack?.stop();
});

/** Polls the queue as Lambda's event source would, into `handle`; returns every body each invocation saw. */
function pollInto(queue: QueuePair, handle: (records: SQSRecord[]) => unknown): string[][] {
  const invocations: string[][] = [];
  const poller = new SqsEventSourcePoller(
    { logicalId: 'Mapping', queueUrl: queue.url, queueArn: queue.arn, functionName: 'fn', batchSize: 10, batchingWindowSeconds: 0, reportBatchItemFailures: true },
    stack.sqs,
    async ({ Records }) => {
      invocations.push(Records.map((record) => record.body));
      return handle(Records);
    },
    REGION,
    () => undefined,
  );
  poller.start();
  pollers.push(poller);
  return invocations;
}

const seen = (invocations: string[][], body: string) => invocations.flat().filter((candidate) => candidate === body).length;

describe('the SQS event-source poller', () => {
  it('deletes what succeeded, retries only the reported failures, and redrives them to the DLQ after maxReceiveCount', async () => {
    const invocations = pollInto(stack.notifyUser, (records) => ({
      batchItemFailures: records.filter((record) => record.body.startsWith('fail')).map((record) => ({ itemIdentifier: record.messageId })),
    }));
    await enqueue(stack.sqs, stack.notifyUser.url, 'ok-1', 'ok-2', 'fail-1');

    const [deadLetter] = await eventually(async () => {
      const messages = await receiveAll(stack.sqs, stack.notifyUser.deadLetterUrl);
      return messages.length > 0 ? messages : undefined;
    }, 'the failing message in the dead-letter queue', 20_000);
    expect(deadLetter?.Body).toBe('fail-1');
    expect(seen(invocations, 'fail-1')).toBe(5);
    expect(seen(invocations, 'ok-1')).toBe(1);
    expect(seen(invocations, 'ok-2')).toBe(1);
  }, 30_000);

  it('retries the whole batch when the function throws', async () => {
    let calls = 0;
    const invocations = pollInto(stack.notifyConnection, () => {
      calls += 1;
      if (calls === 1) throw new Error('cold start failed');
      return { batchItemFailures: [] };
    });
    await stack.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.notifyConnection.url,
        Entries: [
          { Id: 'a', MessageBody: 'a' },
          { Id: 'b', MessageBody: 'b' },
        ],
      }),
    );

    await eventually(async () => (seen(invocations, 'a') === 2 && seen(invocations, 'b') === 2 ? true : undefined), 'both messages to be retried', 10_000);
    expect(await receiveAll(stack.sqs, stack.notifyConnection.url)).toEqual([]);
  }, 20_000);
});
