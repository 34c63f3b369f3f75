import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { addEnvironment, allow, consume, newConsumedQueue, newDeadLetterQueue, newHandlerFunction } from './builders';
import type { WsNotifySettings } from './settings';

/**
 * Where a backend's notifications enter: `NotifyUser {"userId","data"}` reaches every connection of
 * a user, `NotifyConnection {"connectionId","data"}` one connection. NotifyUser posts to a few
 * connections itself and hands the rest of a large user to NotifyConnection; what neither can
 * deliver goes to its dead-letter queue with the reason.
 */
export class DeliveryQueues {
  public readonly notifyUserQueue: Queue;
  public readonly notifyUserDeadLetterQueue: Queue;
  public readonly notifyConnectionQueue: Queue;
  public readonly notifyConnectionDeadLetterQueue: Queue;
  public readonly notifyUser: NodejsFunction;
  public readonly notifyConnection: NodejsFunction;

  constructor(scope: Construct, settings: WsNotifySettings) {
    const { logRetention, removalPolicy, concurrency } = settings;
    this.notifyUserDeadLetterQueue = newDeadLetterQueue(scope, 'NotifyUserDeadLetterQueue', removalPolicy);
    this.notifyUserQueue = newConsumedQueue(scope, 'NotifyUserQueue', this.notifyUserDeadLetterQueue);
    this.notifyConnectionDeadLetterQueue = newDeadLetterQueue(scope, 'NotifyConnectionDeadLetterQueue', removalPolicy);
    this.notifyConnectionQueue = newConsumedQueue(scope, 'NotifyConnectionQueue', this.notifyConnectionDeadLetterQueue);

    this.notifyUser = newHandlerFunction(scope, 'NotifyUser', {
      handler: 'notify-user',
      logRetention,
      environment: settings.tenantClaim === undefined ? {} : { TENANT_CLAIM: settings.tenantClaim },
    });
    this.notifyConnection = newHandlerFunction(scope, 'NotifyConnection', { handler: 'notify-connection', logRetention });
    consume(this.notifyUser, this.notifyUserQueue, concurrency.notifyUserConcurrency);
    consume(this.notifyConnection, this.notifyConnectionQueue, concurrency.notifyConnectionConcurrency);
    // NotifyUser hands a large user's connections to NotifyConnection; each dead-letters what it
    // cannot deliver itself, with the reason.
    addEnvironment(this.notifyUser, {
      NOTIFY_CONNECTION_QUEUE_URL: this.notifyConnectionQueue.queueUrl,
      DEAD_LETTER_QUEUE_URL: this.notifyUserDeadLetterQueue.queueUrl,
    });
    allow(this.notifyUser, ['sqs:SendMessage'], [this.notifyConnectionQueue.queueArn, this.notifyUserDeadLetterQueue.queueArn]);
    addEnvironment(this.notifyConnection, { DEAD_LETTER_QUEUE_URL: this.notifyConnectionDeadLetterQueue.queueUrl });
    allow(this.notifyConnection, ['sqs:SendMessage'], [this.notifyConnectionDeadLetterQueue.queueArn]);
  }
}
