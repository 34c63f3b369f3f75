import { type BatchResultErrorEntry, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SendMessageBatch takes at most 10 entries and 256 KiB in all (the limit every SQS-compatible endpoint honours). */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;
const ATTEMPTS = 4;
const BASE_BACKOFF_MS = 50;

/** Some entries were still refused after every retry; the caller's record must be retried. */
export class EnqueueIncompleteError extends Error {
  override readonly name = 'EnqueueIncompleteError';

  constructor(
    readonly failed: number,
    readonly firstFailure: BatchResultErrorEntry | undefined,
  ) {
    super(
      `${failed} message(s) not enqueued after ${ATTEMPTS} attempts` +
        (firstFailure ? `: ${firstFailure.Code} ${firstFailure.Message ?? ''}`.trimEnd() : ''),
    );
  }
}

/**
 * Enqueues every body with SendMessageBatch, in batches within SQS's count and size limits,
 * retrying only the entries a batch reports as failed.
 */
export async function enqueueAll(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (const batch of batchesOf(bodies)) {
    await sendBatch(sqs, queueUrl, batch);
  }
}

async function sendBatch(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
  let pending = bodies.map((body, index) => ({ Id: String(index), MessageBody: body }));
  let failures: BatchResultErrorEntry[] = [];
  for (let attempt = 0; attempt < ATTEMPTS && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(BASE_BACKOFF_MS * 2 ** attempt);
    const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
    failures = result.Failed ?? [];
    const failedIds = new Set(failures.map((failure) => failure.Id));
    pending = pending.filter((entry) => failedIds.has(entry.Id));
  }
  if (pending.length > 0) throw new EnqueueIncompleteError(pending.length, failures[0]);
}

export function* batchesOf(bodies: readonly string[]): Generator<string[]> {
  let batch: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = Buffer.byteLength(body);
    if (batch.length === MAX_BATCH_ENTRIES || (batch.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(body);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
