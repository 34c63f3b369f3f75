import { Lazy, Stack } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { addEnvironment, allow, consume, newConsumedQueue, newDeadLetterQueue, newHandlerFunction } from './builders';
import type { DeliveryQueues } from './delivery-queues';
import type { WsNotifySettings } from './settings';

/**
 * Topics: the `subscribe`, `unsubscribe` and `publish` routes, the Publish queue a backend sends
 * `{"topic","event"}` to, and the topic fan-out that reads a topic's subscribers a page at a time
 * (optionally through an enricher) and hands them to NotifyConnection.
 */
export class Topics {
  /** Send `{"topic","event":<CloudEvent>}` here to publish to a topic's subscribers. */
  public readonly publishQueue: Queue;
  /** Dead letters of the Publish queue and of the topic pages queue. */
  public readonly publishDeadLetterQueue: Queue;
  /**
   * Internal: the topic fan-out's own queue, a page of subscribers per message: the events the
   * server stamped with their publisher (clients' `publish`, the events ingress), and the rest of a
   * large topic's fan-out. Only the functions granted `grantSendPages` may send here (the queue
   * policy denies everyone else).
   */
  public readonly topicPagesQueue: Queue;
  public readonly subscribe: NodejsFunction;
  public readonly unsubscribe: NodejsFunction;
  public readonly publish: NodejsFunction;
  public readonly topicFanOut: NodejsFunction;
  private readonly pageSenders: NodejsFunction[] = [];

  /** The fan-out hands each page's deliveries to `delivery`'s NotifyConnection queue. */
  constructor(scope: Construct, settings: WsNotifySettings, delivery: DeliveryQueues) {
    const { logRetention, removalPolicy } = settings;
    const publicTopics = JSON.stringify(settings.publicTopics);
    this.publishDeadLetterQueue = newDeadLetterQueue(scope, 'PublishDeadLetterQueue', removalPolicy);
    this.publishQueue = newConsumedQueue(scope, 'PublishQueue', this.publishDeadLetterQueue);
    this.topicPagesQueue = newConsumedQueue(scope, 'TopicPagesQueue', this.publishDeadLetterQueue);

    // Both read the grants a refresh stored on the connection's row.
    this.subscribe = newHandlerFunction(scope, 'Subscribe', {
      handler: 'subscribe',
      logRetention,
      environment: {
        PUBLIC_TOPICS: publicTopics,
        PUBLIC_GROUPS: JSON.stringify(settings.publicGroups),
        MAX_SUBSCRIPTIONS_PER_CONNECTION: String(settings.maxSubscriptionsPerConnection),
      },
    });
    this.unsubscribe = newHandlerFunction(scope, 'Unsubscribe', { handler: 'unsubscribe', logRetention });
    this.publish = newHandlerFunction(scope, 'Publish', { handler: 'publish', logRetention });

    const enrichers = settings.enrichers;
    // Only a stack with enrichers carries the Lambda client in its fan-out bundle.
    this.topicFanOut = newHandlerFunction(scope, 'TopicFanOut', {
      handler: enrichers.length === 0 ? 'topic-fan-out' : 'enriching-topic-fan-out',
      logRetention,
      environment: {
        ...(settings.tenantClaim !== undefined && { TENANT_CLAIM: settings.tenantClaim }),
        ...(enrichers.length > 0 && { ENRICHERS: Stack.of(scope).toJsonString(Object.fromEntries(enrichers.map(([pattern, fn]) => [pattern, fn.functionArn]))) }),
        PUBLIC_TOPICS: publicTopics,
        NOTIFY_CONNECTION_QUEUE_URL: delivery.notifyConnectionQueue.queueUrl,
        TOPIC_PAGES_QUEUE_URL: this.topicPagesQueue.queueUrl,
        TOPIC_PAGES_QUEUE_ARN: this.topicPagesQueue.queueArn,
        DEAD_LETTER_QUEUE_URL: this.publishDeadLetterQueue.queueUrl,
      },
    });
    // One setting bounds both of the fan-out's queues.
    consume(this.topicFanOut, this.publishQueue, settings.concurrency.publishConcurrency);
    consume(this.topicFanOut, this.topicPagesQueue, settings.concurrency.publishConcurrency);
    if (enrichers.length > 0) {
      // The unqualified ARNs that ENRICHERS names, nothing more (grantInvoke would add every version, `:*`).
      allow(this.topicFanOut, ['lambda:InvokeFunction'], enrichers.map(([, fn]) => fn.functionArn));
    }
    // A page's deliveries, the rest of the topic as the next page, and what it cannot deliver.
    this.pageSenders.push(this.topicFanOut);
    allow(this.topicFanOut, ['sqs:SendMessage'], [delivery.notifyConnectionQueue.queueArn, this.topicPagesQueue.queueArn, this.publishDeadLetterQueue.queueArn]);

    // A page starts wherever its cursor says and skips enrichment and groups, and its event's
    // publisher is believed: whoever could send one could suppress or reroute a topic's events, or
    // publish as a user. An explicit deny binds every principal of the account, whatever its own
    // policies allow (aws:PrincipalArn is the role, for its sessions).
    this.topicPagesQueue.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [this.topicPagesQueue.queueArn],
        conditions: {
          ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => this.pageSenders.map((fn) => fn.role!.roleArn) }) },
        },
      }),
    );
  }

  /** Sends pages of a topic's fan-out (TOPIC_PAGES_QUEUE_URL): the queue policy admits exactly the functions granted this. */
  grantSendPages(fn: NodejsFunction): void {
    this.pageSenders.push(fn);
    addEnvironment(fn, { TOPIC_PAGES_QUEUE_URL: this.topicPagesQueue.queueUrl });
    allow(fn, ['sqs:SendMessage'], [this.topicPagesQueue.queueArn]);
  }
}
