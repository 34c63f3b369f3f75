import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { InvalidMessageError } from './messages';
import type { MetricsRecorder } from './metrics';

/** The part of a queue record that dead-lettering keeps. */
export interface QueueRecord {
  messageId: string;
  body: string;
  eventSourceARN: string;
}

const MAX_REASON_CHARS = 1024;

/**
 * Sends a message that can never succeed straight to the dead-letter queue, with the reason as
 * message attributes, instead of letting it be retried until the redrive policy moves it there.
 */
export class DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly metrics: MetricsRecorder,
  ) {}

  async send(record: QueueRecord, error: InvalidMessageError): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: record.body,
        MessageAttributes: {
          ErrorCode: { DataType: 'String', StringValue: error.reason },
          ErrorMessage: { DataType: 'String', StringValue: error.message.slice(0, MAX_REASON_CHARS) },
          SourceMessageId: { DataType: 'String', StringValue: record.messageId },
          SourceQueueArn: { DataType: 'String', StringValue: record.eventSourceARN },
        },
      }),
    );
    this.metrics.deadLettered(error.reason);
  }
}
