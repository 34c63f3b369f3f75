import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { EventSourceMappingDefinition } from '../cloudformation/app-model';
import { toSqsRecord } from './sqs-records';

/** Lambda polls a standard queue with five batches at once to begin with. */
const DEFAULT_CONCURRENT_BATCHES = 5;
/** Long polling, as Lambda's pollers do; a stop aborts the wait. */
const WAIT_TIME_SECONDS = 20;
const RETRY_AFTER_ERROR_MS = 1000;

export type Invoke = (event: { Records: ReturnType<typeof toSqsRecord>[] }) => Promise<unknown>;

/**
 * Which messages of a batch failed, by Lambda's rules for an SQS event source: a thrown error fails
 * the whole batch; with ReportBatchItemFailures, an empty or null response is a full success, and
 * an identifier that is empty or not in the batch makes the whole batch a failure.
 */
export function failedMessageIds(
  outcome: { result: unknown } | { error: unknown },
  batch: readonly string[],
  reportBatchItemFailures: boolean,
): Set<string> {
  if ('error' in outcome) return new Set(batch);
  if (!reportBatchItemFailures) return new Set();
  const failures = (outcome.result as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return new Set(batch);
  const ids = failures.map((failure) => (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier);
  if (ids.some((id) => typeof id !== 'string' || !batch.includes(id))) return new Set(batch);
  return new Set(ids as string[]);
}

/**
 * Lambda's SQS event-source mapping, run locally: long-polls the queue in concurrent batches,
 * invokes the function, and deletes only what succeeded. Failed messages stay invisible for the
 * queue's visibility timeout and come back; the queue's redrive policy moves them to the
 * dead-letter queue after `maxReceiveCount` receives.
 */
export class SqsEventSourcePoller {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    readonly mapping: EventSourceMappingDefinition,
    private readonly sqs: SQSClient,
    private readonly invoke: Invoke,
    private readonly region: string,
    private readonly onError: (error: Error) => void,
    /** How long a received batch waits before the function gets it (an injected fault; see local/dev-endpoints/faults.ts). */
    private readonly delayMs: () => number = () => 0,
  ) {}

  start(): void {
    const concurrency = Math.min(this.mapping.maximumConcurrency ?? DEFAULT_CONCURRENT_BATCHES, DEFAULT_CONCURRENT_BATCHES);
    this.loops = Array.from({ length: concurrency }, () => this.pollLoop());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async pollLoop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        const batch = await this.receiveBatch();
        if (batch.length > 0) await this.process(batch);
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.onError(error as Error);
        await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_ERROR_MS));
      }
    }
  }

  /** Up to BatchSize messages; with a batching window, keeps receiving until it is full or the window closes. */
  private async receiveBatch(): Promise<Message[]> {
    const { batchSize, batchingWindowSeconds } = this.mapping;
    const windowEnds = Date.now() + batchingWindowSeconds * 1000;
    const batch: Message[] = [];
    do {
      const waitSeconds = batch.length === 0 ? WAIT_TIME_SECONDS : Math.max(0, Math.ceil((windowEnds - Date.now()) / 1000));
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.mapping.queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - batch.length),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.abort.signal },
      );
      batch.push(...Messages);
    } while (batch.length > 0 && batch.length < batchSize && Date.now() < windowEnds);
    return batch;
  }

  private async process(batch: Message[]): Promise<void> {
    const delayMs = this.delayMs();
    // Aborted by a stop, which leaves the batch to come back after its visibility timeout.
    if (delayMs > 0) await sleep(delayMs, undefined, { signal: this.abort.signal });
    const records = batch.map((message) => toSqsRecord(message, this.mapping.queueArn, this.region));
    const outcome = await this.invoke({ Records: records }).then(
      (result) => ({ result }),
      (error: unknown) => {
        this.onError(error as Error);
        return { error };
      },
    );
    const failed = failedMessageIds(outcome, records.map((record) => record.messageId), this.mapping.reportBatchItemFailures);
    const succeeded = batch.filter((message) => !failed.has(message.MessageId as string));
    for (let start = 0; start < succeeded.length; start += 10) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.mapping.queueUrl,
          Entries: succeeded.slice(start, start + 10).map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
  }
}
