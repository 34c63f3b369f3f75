import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetterQueue } from './core/dead-letter';
import { InvalidMessageError } from './core/messages';
import { logger } from './logger';

/**
 * An SQS handler that reports partial batch failures: a record that throws is retried alone, its
 * siblings are not. A record that can never succeed goes to the dead-letter queue with its reason.
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
    // All records failing is reported like any partial failure (each one retried), not thrown.
    return processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false });
  };
}

/** When SQS first accepted the message: stable across retries, so it dates the notification. */
export function sentTime(record: SQSRecord): string {
  return new Date(Number(record.attributes.SentTimestamp)).toISOString();
}
