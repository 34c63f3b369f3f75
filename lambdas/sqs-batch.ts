import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetterQueue } from './core/dead-letter';
import { InvalidMessageError } from './core/messages';
import { logger } from './logger';
import { metrics } from './metrics';

/**
 * An SQS handler that reports partial batch failures: a record that throws is retried alone, its
 * siblings are not. A record that can never succeed goes to the dead-letter queue with its reason.
 * What the records recorded in `metrics` is written once, when the batch is done.
 */
export function sqsBatchHandler(
  processRecord: (record: SQSRecord) => Promise<void>,
  deadLetters: DeadLetterQueue,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord): Promise<void> => {
    try {
      await processRecord(record);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) {
        logger.warn('record failed; SQS will retry it', { messageId: record.messageId, error: error as Error });
        throw error;
      }
      logger.error('invalid message sent to the dead-letter queue', {
        messageId: record.messageId,
        reason: error.reason,
        detail: error.message,
      });
      await deadLetters.send(record, error);
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

/** When SQS first accepted the message (epoch milliseconds): stable across retries, so it dates the notification. */
export function sentAt(record: SQSRecord): number {
  return Number(record.attributes.SentTimestamp);
}

export function sentTime(record: SQSRecord): string {
  return new Date(sentAt(record)).toISOString();
}
