import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpStage, IWebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Function as LambdaFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { InvalidMessageReason } from '../lambdas/core/messages';
import { METRICS_NAMESPACE, MetricName } from '../lambdas/contract/metric-names';

/** The alarm settings a deployer chooses; `WsNotifyProps` takes them as they are. */
export interface WsNotifyAlarmOptions {
  /**
   * Where every alarm sends its ALARM and OK notifications. CloudWatch must be allowed to publish
   * to it (and to use its KMS key, if it has one).
   * @default no notifications, unless `alarmEmail` is set
   */
  readonly alarmTopic?: ITopic;
  /**
   * An address to email alarms to: creates a KMS-encrypted, SSL-only SNS topic that the alarms
   * publish to, and subscribes the address (AWS emails it a confirmation link first). Not with
   * `alarmTopic`: subscribe the address to your own topic instead.
   * @default no topic
   */
  readonly alarmEmail?: string;
  /**
   * How old the oldest message on a main queue (NotifyUser, NotifyConnection, Publish) may grow
   * before its alarm fires. A healthy queue is drained within seconds; a failed delivery comes back
   * after the visibility timeout (3 minutes), so one retry stays under the default.
   * @default Duration.minutes(5)
   */
  readonly maxQueueMessageAge?: Duration;
}

/** A queue the functions consume, and where its messages go when they cannot be delivered. */
export interface ObservedQueue {
  readonly queue: IQueue;
  /** Absent where the queue dead-letters into another observed queue's (watched there once). */
  readonly deadLetterQueue?: IQueue;
  /**
   * Whether a message waiting too long on the queue alarms. Not for a queue whose messages wait by
   * design (a delivery delay) or that a backend drains at its own pace. @default true
   */
  readonly watchAge?: boolean;
}

export interface WsNotifyObservabilityProps extends WsNotifyAlarmOptions {
  /** The `service` dimension of the ws-notify metrics (POWERTOOLS_SERVICE_NAME), and the dashboard's name. */
  readonly serviceName: string;
  /** The functions to watch for errors and throttles, by id (`NotifyUser`, `Authorize`, …). */
  readonly functions: Readonly<Record<string, IFunction>>;
  /**
   * Ids in `functions` of WebSocket `$connect` authorizers. They refuse a connection without a
   * credential by throwing `Unauthorized` (API Gateway's only way to answer 401), which Lambda
   * counts as an error, so their errors alarm on the share of invocations, not on any one error.
   * @default none
   */
  readonly authorizers?: readonly string[];
  /** The main queues by name (`NotifyUser`, `NotifyConnection`, `Publish`), each with its dead-letter queue. */
  readonly queues: Readonly<Record<string, ObservedQueue>>;
  /** The WebSocket API's stage. */
  readonly webSocketStage: IWebSocketStage;
  /** The events ingress HTTP API's stage. */
  readonly eventsStage: IHttpStage;
}

/** Where each alarm's description sends the reader. */
const RUNBOOK = 'docs/operations.md';
const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);
/** Every code a message is dead-lettered with; a `Record` so that a new reason fails to compile until it is watched. */
const DEAD_LETTER_REASONS: Record<InvalidMessageReason, true> = {
  invalid_json: true,
  invalid_message: true,
  payload_too_large: true,
  too_deep: true,
  too_many_groups: true,
  reserved_source: true,
  entry_gone: true,
};
/** Below this many calls in 5 minutes, a few credential-less connects are not a trend. */
const AUTHORIZER_MIN_INVOCATIONS = 10;
/** A broken authorizer fails nearly every call; clients that forget their credential are a minority. */
const AUTHORIZER_ERROR_PERCENT = 50;

/**
 * The stack's alarms, its CloudWatch dashboard and, optionally, the SNS topic the alarms notify.
 * Each alarm's description says what it means and names its section in docs/operations.md.
 */
export class WsNotifyObservability extends Construct {
  /** Every alarm, by construct id (e.g. `NotifyUserDeadLetterQueueNotEmpty`, `ConnectErrors`). */
  public readonly alarms: Readonly<Record<string, Alarm>>;
  public readonly dashboard: Dashboard;
  /** The topic the alarms notify: `alarmTopic`, the one made for `alarmEmail`, or none. */
  public readonly alarmTopic?: ITopic;

  private readonly alarmsById: Record<string, Alarm> = {};
  private readonly serviceName: string;

  constructor(scope: Construct, id: string, props: WsNotifyObservabilityProps) {
    super(scope, id);
    this.serviceName = props.serviceName;
    this.alarms = this.alarmsById;
    const authorizers = props.authorizers ?? [];
    for (const name of authorizers) {
      if (!(name in props.functions)) {
        throw new Error(`WsNotifyObservability: authorizer "${name}" is not one of the functions (${Object.keys(props.functions).join(', ')}).`);
      }
    }
    const maxAge = props.maxQueueMessageAge ?? Duration.minutes(5);
    if (maxAge.toSeconds() < 60) {
      throw new Error(`WsNotifyObservability: maxQueueMessageAge must be at least a minute (SQS reports the age once a minute); got ${maxAge.toHumanString()}.`);
    }

    this.queueAlarms(props.queues, maxAge);
    this.functionAlarms(props.functions, authorizers);
    this.apiAlarms(props.webSocketStage, props.eventsStage);
    this.deliveryAlarms();

    this.alarmTopic = this.resolveAlarmTopic(props);
    if (this.alarmTopic) {
      const action = new SnsAction(this.alarmTopic);
      for (const alarm of Object.values(this.alarmsById)) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    this.dashboard = this.buildDashboard(props);
  }

  /** Each dead-letter queue not empty; each main queue's oldest message not too old. */
  private queueAlarms(queues: Readonly<Record<string, ObservedQueue>>, maxAge: Duration): void {
    for (const [name, { queue, deadLetterQueue, watchAge = true }] of Object.entries(queues)) {
      if (deadLetterQueue !== undefined) {
        this.alarm(`${name}DeadLetterQueueNotEmpty`, {
          metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: Stats.MAXIMUM }),
          threshold: 1,
          section: 'Dead-letter queue not empty',
          meaning: `The ${name} dead-letter queue holds messages: notifications that were not delivered.`,
        });
      }
      if (!watchAge) continue;
      this.alarm(`${name}QueueOldestMessage`, {
        metric: queue.metricApproximateAgeOfOldestMessage({ period: ONE_MINUTE, statistic: Stats.MAXIMUM }),
        threshold: maxAge.toSeconds(),
        section: 'Queue falling behind',
        meaning: `A message has waited on the ${name} queue for ${maxAge.toHumanString()} or more: deliveries are late.`,
      });
    }
  }

  /** Errors and throttles of every function. */
  private functionAlarms(functions: Readonly<Record<string, IFunction>>, authorizers: readonly string[]): void {
    for (const [name, fn] of Object.entries(functions)) {
      const errors = fn.metric('Errors', { period: FIVE_MINUTES, statistic: Stats.SUM });
      if (authorizers.includes(name)) {
        this.alarm(`${name}Errors`, {
          metric: new MathExpression({
            expression: `IF(invocations >= ${AUTHORIZER_MIN_INVOCATIONS}, 100 * errors / invocations, 0)`,
            usingMetrics: { errors, invocations: fn.metric('Invocations', { period: FIVE_MINUTES, statistic: Stats.SUM }) },
            label: `${name} errors (% of invocations)`,
            period: FIVE_MINUTES,
          }),
          threshold: AUTHORIZER_ERROR_PERCENT,
          section: 'Function errors',
          meaning:
            `${AUTHORIZER_ERROR_PERCENT}% or more of ${name}'s calls failed (of at least ${AUTHORIZER_MIN_INVOCATIONS} in 5 minutes). ` +
            'Its refusals of connects without a credential count as errors, so only a large share is alarming.',
        });
      } else {
        this.alarm(`${name}Errors`, {
          metric: errors,
          threshold: 1,
          section: 'Function errors',
          meaning: `The ${name} function failed (threw, timed out or ran out of memory).`,
        });
      }
      this.alarm(`${name}Throttles`, {
        metric: fn.metric('Throttles', { period: FIVE_MINUTES, statistic: Stats.SUM }),
        threshold: 1,
        section: 'Function throttles',
        meaning: `Lambda refused to run the ${name} function: the account or function concurrency limit was reached.`,
      });
    }
  }

  /** What API Gateway reports of the routes' and the events API's integrations. */
  private apiAlarms(ws: IWebSocketStage, events: IHttpStage): void {
    this.alarm('WebSocketIntegrationErrors', {
      metric: ws.metric('IntegrationError', { period: FIVE_MINUTES, statistic: Stats.SUM }),
      threshold: 1,
      section: 'API Gateway errors',
      meaning: 'A WebSocket route (connect, disconnect or a client action) got an error from its function.',
    });
    this.alarm('WebSocketExecutionErrors', {
      metric: ws.metric('ExecutionError', { period: FIVE_MINUTES, statistic: Stats.SUM }),
      threshold: 1,
      section: 'API Gateway errors',
      meaning: 'API Gateway could not call a WebSocket route\'s function (permissions, throttling by Lambda, timeouts).',
    });
    this.alarm('EventsServerErrors', {
      metric: events.metricServerError({ period: FIVE_MINUTES, statistic: Stats.SUM }),
      threshold: 1,
      section: 'API Gateway errors',
      meaning: 'The events API answered 5xx: its authorizer or ingress function failed, so a publisher was refused.',
    });
  }

  /** The functions' own metrics, where they say something actionable. */
  private deliveryAlarms(): void {
    const byReason = this.deadLetteredByReason(FIVE_MINUTES).map((metric, index) => [`reason${index}`, metric] as const);
    this.alarm('DeadLettered', {
      metric: new MathExpression({
        // FILL: a reason that never happened has no data, and one missing term would blank the sum.
        expression: `SUM([${byReason.map(([id]) => `FILL(${id}, 0)`).join(', ')}])`,
        usingMetrics: Object.fromEntries(byReason),
        label: 'Messages dead-lettered (all reasons)',
        period: FIVE_MINUTES,
      }),
      threshold: 1,
      section: 'Messages dead-lettered',
      meaning: 'Messages were sent to a dead-letter queue because no retry can deliver them (bad JSON, bad shape, too large).',
    });
    this.alarm('DeliveriesThrottledSustained', {
      metric: this.metric(MetricName.DeliveriesThrottled, Stats.SUM, FIVE_MINUTES),
      threshold: 1,
      evaluationPeriods: 3,
      section: 'Deliveries throttled',
      meaning: 'API Gateway throttled posts to connections (429) in each of three 5-minute periods in a row: the account\'s request rate is exhausted.',
    });
  }

  private alarm(
    id: string,
    options: { metric: IMetric; threshold: number; evaluationPeriods?: number; section: string; meaning: string },
  ): void {
    const evaluationPeriods = options.evaluationPeriods ?? 1;
    this.alarmsById[id] = new Alarm(this, id, {
      alarmName: `${this.serviceName}-${id}`,
      alarmDescription: `${options.meaning} See ${RUNBOOK}, "${options.section}".`,
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      // No data means nothing happened: an idle queue stops reporting, a function not called reports no errors.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /** One of the functions' own metrics (namespace WsNotify, dimension service). */
  private metric(metricName: string, statistic: string, period = ONE_MINUTE, label?: string): Metric {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: this.serviceName },
      statistic,
      period,
      ...(label !== undefined && { label }),
    });
  }

  private deadLetteredByReason(period: Duration): Metric[] {
    return Object.keys(DEAD_LETTER_REASONS).map(
      (reason) =>
        new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: MetricName.DeadLettered,
          dimensionsMap: { service: this.serviceName, reason },
          statistic: Stats.SUM,
          period,
          label: reason,
        }),
    );
  }

  private resolveAlarmTopic(props: WsNotifyAlarmOptions): ITopic | undefined {
    if (props.alarmTopic && props.alarmEmail !== undefined) {
      throw new Error('WsNotifyObservability: give alarmTopic or alarmEmail, not both (subscribe the address to your own topic).');
    }
    if (props.alarmEmail === undefined) return props.alarmTopic;
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) {
      throw new Error(`WsNotifyObservability: alarmEmail must be an email address such as ops@example.com (got ${JSON.stringify(props.alarmEmail)}).`);
    }
    const stack = Stack.of(this);
    // CloudWatch itself publishes alarms, on behalf of this account's alarms only.
    const fromThisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    // The AWS-managed SNS key cannot be granted to CloudWatch: alarms would be dropped. A key of our own can.
    const key = new Key(this, 'AlarmTopicKey', {
      description: `${this.serviceName}: encrypts the alarm topic`,
      enableKeyRotation: true,
      // It encrypts messages in flight only; nothing stored needs it once the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccountsAlarms,
      }),
    );
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: `${this.serviceName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // With a topic policy of our own (the SSL rule), SNS's default "this account may publish" is gone.
    topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );
    topic.addSubscription(new EmailSubscription(props.alarmEmail));
    return topic;
  }

  private buildDashboard(props: WsNotifyObservabilityProps): Dashboard {
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: this.serviceName,
      defaultInterval: Duration.hours(3),
    });
    const graph = (title: string, left: IMetric[], width = 8, right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width, height: 6 });
    const sum = (metricName: string) => this.metric(metricName, Stats.SUM);
    const queues = Object.entries(props.queues);
    const functions = Object.entries(props.functions);
    const ws = props.webSocketStage;
    const events = props.eventsStage;

    dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${this.serviceName}\nWhat each alarm means and what to do: \`${RUNBOOK}\` in the ws-notify repository.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarmsById), width: 24, height: 6 }));
    dashboard.addWidgets(
      graph('Notifications and deliveries', [
        sum(MetricName.NotificationsReceived),
        sum(MetricName.DeliveriesPosted),
        sum(MetricName.ConnectionsGone),
      ]),
      graph('Deliveries retried and throttled', [sum(MetricName.DeliveriesRetried), sum(MetricName.DeliveriesThrottled)]),
      graph('Dead-lettered, by reason', [
        new MathExpression({
          // Every reason the functions report, known here or not.
          expression: `SEARCH('{${METRICS_NAMESPACE},reason,service} MetricName="${MetricName.DeadLettered}" service="${this.serviceName}"', 'Sum', 60)`,
          usingMetrics: {},
          label: '',
          period: ONE_MINUTE,
        }),
      ]),
    );
    dashboard.addWidgets(
      graph('Fan-out size (connections per notification)', [
        this.metric(MetricName.FanOutSize, Stats.AVERAGE, ONE_MINUTE, 'average'),
        this.metric(MetricName.FanOutSize, Stats.MAXIMUM, ONE_MINUTE, 'maximum'),
      ]),
      graph('Topic events', [sum(MetricName.TopicEvents)]),
      graph('Delivery latency, enqueue to post (ms)', [
        this.metric(MetricName.DeliveryLatency, Stats.p(50), ONE_MINUTE, 'p50'),
        this.metric(MetricName.DeliveryLatency, Stats.p(99), ONE_MINUTE, 'p99'),
      ]),
    );
    dashboard.addWidgets(
      graph(
        'Queue depth (messages visible)',
        queues.map(([name, { queue }]) => queue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: Stats.MAXIMUM, label: name })),
      ),
      graph(
        'Oldest message age (s)',
        queues.map(([name, { queue }]) => queue.metricApproximateAgeOfOldestMessage({ period: ONE_MINUTE, statistic: Stats.MAXIMUM, label: name })),
      ),
      graph(
        'Dead-letter queue depth',
        queues.flatMap(([name, { deadLetterQueue }]) =>
          deadLetterQueue === undefined ? [] : [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: Stats.MAXIMUM, label: name })],
        ),
      ),
    );
    dashboard.addWidgets(
      graph('Function errors', functions.map(([name, fn]) => fn.metric('Errors', { period: ONE_MINUTE, statistic: Stats.SUM, label: name }))),
      graph('Function throttles', functions.map(([name, fn]) => fn.metric('Throttles', { period: ONE_MINUTE, statistic: Stats.SUM, label: name }))),
      graph(
        'Concurrent executions',
        functions.map(([name, fn]) => fn.metric('ConcurrentExecutions', { period: ONE_MINUTE, statistic: Stats.MAXIMUM, label: name })),
        8,
        [LambdaFunction.metricAllConcurrentExecutions({ period: ONE_MINUTE, statistic: Stats.MAXIMUM, label: 'whole account' })],
      ),
    );
    dashboard.addWidgets(
      graph('WebSocket connects and messages', [
        ws.metric('ConnectCount', { period: ONE_MINUTE, statistic: Stats.SUM }),
        ws.metric('MessageCount', { period: ONE_MINUTE, statistic: Stats.SUM }),
      ]),
      graph(
        'WebSocket errors',
        ['IntegrationError', 'ExecutionError', 'ClientError'].map((name) => ws.metric(name, { period: ONE_MINUTE, statistic: Stats.SUM })),
      ),
      graph('Events API requests', [
        events.metricCount({ period: ONE_MINUTE, statistic: Stats.SUM, label: 'requests' }),
        events.metricClientError({ period: ONE_MINUTE, statistic: Stats.SUM, label: '4xx' }),
        events.metricServerError({ period: ONE_MINUTE, statistic: Stats.SUM, label: '5xx' }),
      ]),
    );
    return dashboard;
  }
}
