import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SendMessageBatch takes at most 10 entries. */
const MAX_BATCH_ENTRIES = 10;

/** A FIFO queue's message group (its order) and deduplication id (a resend within 5 minutes is dropped). */
export interface FifoIds {
  groupId: string;
  deduplicationId: string;
}

/** An entry SendMessageBatch refused; the record that sent it fails and is retried. */
export class BatchEntryFailedError extends Error {
  override readonly name = 'BatchEntryFailedError';
}

/**
 * Sends messages of records processed side by side as one SendMessageBatch: each `send` waits at
 * most `lingerMs` for others to join (or until 10 have), then all go in one call, and each
 * resolves or rejects with its own entry's result. So a batch of records that each send one
 * message costs one SQS call, and a refused entry fails its own record only.
 */
export class BatchingSender {
  private pending: { body: string; fifo: FifoIds | undefined; resolve: () => void; reject: (error: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly lingerMs = 10,
  ) {}

  send(body: string, fifo?: FifoIds): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ body, fifo, resolve, reject });
      if (this.pending.length >= MAX_BATCH_ENTRIES) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, MAX_BATCH_ENTRIES);
    if (this.pending.length > 0) this.timer = setTimeout(() => this.flush(), this.lingerMs);
    this.sqs
      .send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map(({ body, fifo }, index) => ({
            Id: String(index),
            MessageBody: body,
            ...(fifo && { MessageGroupId: fifo.groupId, MessageDeduplicationId: fifo.deduplicationId }),
          })),
        }),
      )
      .then(({ Failed = [] }) => {
        const failed = new Map(Failed.map((entry) => [entry.Id, entry]));
        batch.forEach(({ resolve, reject }, index) => {
          const failure = failed.get(String(index));
          if (failure) reject(new BatchEntryFailedError(`SendMessageBatch refused the message: ${failure.Code} ${failure.Message ?? ''}`.trimEnd()));
          else resolve();
        });
      })
      .catch((error: unknown) => {
        for (const { reject } of batch) reject(error instanceof Error ? error : new Error(String(error)));
      });
  }
}
