import { Duration } from 'aws-cdk-lib';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { DeduplicationScope, FifoThroughputLimit, type Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { addEnvironment, allow, consume, MAX_RECEIVE_COUNT, newConsumedQueue, newDeadLetterQueue, newHandlerFunction, newQueue } from './builders';
import type { WsNotifySettings } from './settings';

/**
 * The offline fallback (prop `ackTimeout`): each user notification schedules a check, held back
 * `ackTimeout` on the AckCheck queue; a notification no connection of its user acked by then goes,
 * once, to the Undelivered queue for the backend to e-mail or push.
 */
export class OfflineFallback {
  /** Holds each notification's check for `ackTimeout` (its delivery delay). */
  public readonly ackCheckQueue: Queue;
  public readonly ackCheckDeadLetterQueue: Queue;
  /**
   * The notifications no connection of their user acked in time, one message each, `{userId, tenant?,
   * stream: "user", seq, epoch, notification: {id, time, data}}`, for the backend to consume. Its
   * messages go to `undeliveredDeadLetterQueue` after 5 failed receives.
   */
  public readonly undeliveredQueue: Queue;
  public readonly undeliveredDeadLetterQueue: Queue;
  public readonly ackCheck: NodejsFunction;

  constructor(scope: Construct, settings: WsNotifySettings, ackTimeout: Duration) {
    const { removalPolicy } = settings;
    this.ackCheckDeadLetterQueue = newDeadLetterQueue(scope, 'AckCheckDeadLetterQueue', removalPolicy);
    this.ackCheckQueue = newConsumedQueue(scope, 'AckCheckQueue', this.ackCheckDeadLetterQueue, { deliveryDelay: ackTimeout });
    // FIFO: a check retried after its holder died sends again, and the deduplication id drops the
    // repeat; a user's messages keep their order (grouped per user, high throughput per group).
    const fifo = { fifo: true, deduplicationScope: DeduplicationScope.MESSAGE_GROUP, fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID };
    this.undeliveredDeadLetterQueue = newQueue(scope, 'UndeliveredDeadLetterQueue', { ...fifo, retentionPeriod: Duration.days(14), removalPolicy });
    // Consumed by the backend: a message it fails 5 times is kept aside, like ours.
    this.undeliveredQueue = newQueue(scope, 'UndeliveredQueue', {
      ...fifo,
      retentionPeriod: Duration.days(14),
      removalPolicy,
      deadLetterQueue: { queue: this.undeliveredDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    this.ackCheck = newHandlerFunction(scope, 'AckCheck', { handler: 'ack-check', logRetention: settings.logRetention });
    consume(this.ackCheck, this.ackCheckQueue);
    addEnvironment(this.ackCheck, { UNDELIVERED_QUEUE_URL: this.undeliveredQueue.queueUrl, DEAD_LETTER_QUEUE_URL: this.ackCheckDeadLetterQueue.queueUrl });
    allow(this.ackCheck, ['sqs:SendMessage'], [this.undeliveredQueue.queueArn, this.ackCheckDeadLetterQueue.queueArn]);
  }

  /** Schedules a notification's check (ACK_CHECK_QUEUE_URL). */
  grantScheduleCheck(fn: NodejsFunction): void {
    addEnvironment(fn, { ACK_CHECK_QUEUE_URL: this.ackCheckQueue.queueUrl });
    allow(fn, ['sqs:SendMessage'], [this.ackCheckQueue.queueArn]);
  }
}
