import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetterQueue } from '../core/dead-letter';
import type { AppendOrigin } from '../core/streams';
import { InvalidMessageError } from '../core/messages';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';

/**
 * An SQS handler that reports partial batch failures: a record that fails is retried alone, its
 * siblings are not. Each record is first read (parsed and validated: no I/O), then acted on.
 *
 * Which failures are retried: only those of acting on a record, which come from its I/O (a throttled
 * or stalled service, a failing enrichment function). Whatever reading a record throws, it throws
 * again on every retry, so the record goes to the dead-letter queue at once, with its reason: an
 * InvalidMessageError's own, or `invalid_message` for anything else (a RangeError, a TypeError: an
 * input the checks did not foresee). So does an InvalidMessageError thrown while acting on it.
 * What the records recorded in `metrics` is written once, when the batch is done.
 */
export function sqsBatchHandler<Message>(
  read: (record: SQSRecord) => Message,
  act: (message: Message, record: SQSRecord) => Promise<void>,
  deadLetters: DeadLetterQueue,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord): Promise<void> => {
    let message: Message;
    try {
      message = read(record);
    } catch (error) {
      await deadLetter(record, unreadable(error), deadLetters);
      return;
    }
    try {
      await act(message, record);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) {
        logger.warn('record failed; SQS will retry it', { messageId: record.messageId, error: error as Error });
        throw error;
      }
      await deadLetter(record, error, deadLetters);
    }
  };
  return async (event, context) => {
    logger.addContext(context);
    try {
      // All records failing is reported like any partial failure (each one retried), not thrown.
      return await processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false });
    } finally {
      metrics.flush();
    }
  };
}

function unreadable(error: unknown): InvalidMessageError {
  if (error instanceof InvalidMessageError) return error;
  return new InvalidMessageError('invalid_message', `the message could not be read: ${String(error)}`, { cause: error });
}

async function deadLetter(record: SQSRecord, error: InvalidMessageError, deadLetters: DeadLetterQueue): Promise<void> {
  logger.error('invalid message sent to the dead-letter queue', {
    messageId: record.messageId,
    reason: error.reason,
    detail: error.message,
    // What a validator threw, with its stack, when it was not a refusal of ours.
    ...(error.cause instanceof Error && { error: error.cause }),
  });
  await deadLetters.send(record, error);
}

/** When SQS first accepted the message (epoch milliseconds): stable across retries, so it dates the notification. */
export function sentAt(record: SQSRecord): number {
  return Number(record.attributes.SentTimestamp);
}

export function sentTime(record: SQSRecord): string {
  return new Date(sentAt(record)).toISOString();
}

/** The record as the origin of a stream entry: a record received before may have appended it already. */
export function appendOrigin(record: SQSRecord): AppendOrigin {
  return { messageId: record.messageId, sentAt: sentAt(record), retried: Number(record.attributes.ApproximateReceiveCount) > 1 };
}
