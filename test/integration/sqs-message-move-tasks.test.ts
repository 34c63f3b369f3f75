import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  ReceiveMessageCommand,
  ResourceNotFoundException,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { type Engine, startSqsEmulator } from '../../local/engines/engine-processes';
import { eventually } from '../support/local-runtime';

let engine: Engine;
let sqs: SQSClient;

beforeAll(async () => {
  engine = await startSqsEmulator();
  sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: engine.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
}, 30_000);

afterAll(async () => {
  sqs?.destroy();
  await engine?.stop();
});

interface Queue {
  url: string;
  arn: string;
}

let queues = 0;

async function createQueue(name: string, attributes: Record<string, string> = {}): Promise<Queue> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}${(queues += 1)}`, Attributes: attributes }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl as string, arn: Attributes?.QueueArn as string };
}

/** A queue and its dead-letter queue, which takes a message after one failed receive. */
async function queueWithDeadLetterQueue(): Promise<{ queue: Queue; deadLetter: Queue }> {
  const deadLetter = await createQueue('DeadLetter');
  const queue = await createQueue('Main', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetter.arn, maxReceiveCount: 1 }) });
  return { queue, deadLetter };
}

async function receive(queue: Queue, visibilityTimeout?: number) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: 10,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
      ...(visibilityTimeout !== undefined && { VisibilityTimeout: visibilityTimeout }),
    }),
  );
  return Messages;
}

async function finishedTask(source: Queue): Promise<ListMessageMoveTasksResultEntry> {
  return eventually(async () => {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: source.arn }));
    return Results[0]?.Status === 'RUNNING' || Results[0]?.Status === 'CANCELLING' ? undefined : Results[0];
  }, 'the move task to finish');
}

async function errorOf(promise: Promise<unknown>): Promise<SQSServiceException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SQSServiceException) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe("the SQS emulator's message move tasks", () => {
  it('move every message of a dead-letter queue to the destination as new messages that keep their body and attributes', async () => {
    const { queue, deadLetter } = await queueWithDeadLetterQueue();
    // One moved by the redrive policy, one sent straight to the dead-letter queue with its reason.
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'failed twice' }));
    await receive(queue, 0);
    expect(await receive(queue, 0)).toEqual([]);
    const { MessageId: sentId } = await sqs.send(
      new SendMessageCommand({
        QueueUrl: deadLetter.url,
        MessageBody: 'invalid',
        MessageAttributes: { ErrorCode: { DataType: 'String', StringValue: 'invalid_json' } },
      }),
    );

    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetter.arn, DestinationArn: queue.arn }));

    expect(TaskHandle).toEqual(expect.any(String));
    expect(await finishedTask(deadLetter)).toEqual({
      Status: 'COMPLETED',
      SourceArn: deadLetter.arn,
      DestinationArn: queue.arn,
      ApproximateNumberOfMessagesMoved: 2,
      ApproximateNumberOfMessagesToMove: 2,
      StartedTimestamp: expect.any(Number),
    });
    const moved = await receive(queue);
    expect(moved.map((message) => message.Body).sort()).toEqual(['failed twice', 'invalid']);
    const invalid = moved.find((message) => message.Body === 'invalid');
    expect(invalid?.MessageAttributes).toEqual({ ErrorCode: { DataType: 'String', StringValue: 'invalid_json' } });
    expect(invalid?.MessageId).not.toBe(sentId);
    expect(moved.map((message) => message.Attributes?.['ApproximateReceiveCount'])).toEqual(['1', '1']);
    expect(await receive(deadLetter)).toEqual([]);
  });

  it('allow one running task per source queue', async () => {
    const { queue, deadLetter } = await queueWithDeadLetterQueue();
    for (const body of ['a', 'b', 'c']) await sqs.send(new SendMessageCommand({ QueueUrl: deadLetter.url, MessageBody: body }));
    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetter.arn, DestinationArn: queue.arn, MaxNumberOfMessagesPerSecond: 1 }));

    const error = await errorOf(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetter.arn, DestinationArn: queue.arn })));

    expect(error.message).toBe('There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
    const { Results } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: deadLetter.arn }));
    expect(Results?.[0]).toMatchObject({ Status: 'RUNNING', TaskHandle: expect.any(String), MaxNumberOfMessagesPerSecond: 1 });
  });

  it('stop when cancelled, leaving what they had not moved', async () => {
    const { queue, deadLetter } = await queueWithDeadLetterQueue();
    for (const body of ['a', 'b', 'c', 'd']) await sqs.send(new SendMessageCommand({ QueueUrl: deadLetter.url, MessageBody: body }));
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: deadLetter.arn, DestinationArn: queue.arn, MaxNumberOfMessagesPerSecond: 1 }),
    );

    const { ApproximateNumberOfMessagesMoved } = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));

    expect(ApproximateNumberOfMessagesMoved).toBeLessThan(4);
    const task = await finishedTask(deadLetter);
    expect(task).toMatchObject({ Status: 'CANCELLED', ApproximateNumberOfMessagesToMove: 4 });
    expect(task).not.toHaveProperty('TaskHandle');
    expect((await receive(deadLetter)).length).toBe(4 - (task.ApproximateNumberOfMessagesMoved as number));
  });

  it('refuse a source that is no queue\'s dead-letter queue, and a destination that does not exist, as SQS does', async () => {
    const { queue, deadLetter } = await queueWithDeadLetterQueue();

    const notDeadLetter = await errorOf(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: queue.arn, DestinationArn: deadLetter.arn })));
    const noDestination = await errorOf(
      sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetter.arn, DestinationArn: `${queue.arn}-missing` })),
    );

    expect(notDeadLetter).toMatchObject({ name: 'InvalidParameterValue', message: 'Source queue must be configured as a Dead Letter Queue.' });
    expect(noDestination).toBeInstanceOf(ResourceNotFoundException);
    expect(noDestination.message).toBe("The resource that you specified for the DestinationArn parameter doesn't exist.");
  });

  it('need a DestinationArn, since the emulator does not record where a message was dead-lettered from', async () => {
    const { deadLetter } = await queueWithDeadLetterQueue();

    const error = await errorOf(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: deadLetter.arn })));

    expect(error.message).toMatch(/needs DestinationArn/);
  });
});
