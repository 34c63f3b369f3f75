import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpApi, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Code, Function, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { METRICS_NAMESPACE, MetricName } from '../../lambdas/contract/metric-names';
import { wsNotifyPropsFromContext } from '../../lib/app-context';
import { type WsNotifyAlarmOptions, WsNotifyObservability } from '../../lib/observability';
import { WsNotifyStack } from '../../lib/ws-notify-stack';

// As `cdk deploy` synthesizes: a concrete account and region. Bundling is skipped: the template is what is tested.
const env = { account: '123456789012', region: 'eu-west-1' };
const skipBundling = { 'aws:cdk:bundling-stacks': [] };

type Resource = { Type: string; Properties: Record<string, any> };

function ofType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([, resource]) => resource.Type === type);
}

type FixtureOptions = WsNotifyAlarmOptions & { alarmTopicInStack?: boolean; authorizers?: string[] };

/** The construct on its own, over two functions, one queue pair and both APIs: a small stack that synthesizes fast. */
function observedStack(options: FixtureOptions = {}) {
  const built = buildObservedStack(options);
  return { ...built, template: Template.fromStack(built.stack) };
}

function buildObservedStack(options: FixtureOptions) {
  const app = new App({ context: skipBundling });
  const stack = new Stack(app, 'Observed', { env });
  const fn = (id: string) => new Function(stack, id, { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => {}') });
  const webSocketApi = new WebSocketApi(stack, 'Api');
  const webSocketStage = new WebSocketStage(stack, 'Stage', { webSocketApi, stageName: 'live' });
  const eventsApi = new HttpApi(stack, 'EventsApi');
  const deadLetterQueue = new Queue(stack, 'NotifyUserDlq');
  const { alarmTopicInStack, authorizers = ['Authorize'], ...alarmOptions } = options;
  const observability = new WsNotifyObservability(stack, 'Observability', {
    ...alarmOptions,
    ...(alarmTopicInStack && { alarmTopic: new Topic(stack, 'OpsTopic') }),
    serviceName: 'ws-notify-staging',
    functions: { Authorize: fn('Authorize'), NotifyUser: fn('NotifyUser') },
    authorizers,
    queues: { NotifyUser: { queue: new Queue(stack, 'NotifyUserQueue', { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 } }), deadLetterQueue } },
    webSocketStage,
    eventsStage: eventsApi.defaultStage!,
  });
  return { app, stack, observability };
}

const ref = (template: Template, type: string, idPrefix: string) => {
  const match = ofType(template, type).find(([id]) => id.startsWith(idPrefix));
  if (!match) throw new Error(`no ${type} ${idPrefix}`);
  return match[0];
};

describe('the alarms', () => {
  let template: Template;
  let observability: WsNotifyObservability;
  beforeAll(() => ({ template, observability } = observedStack()));

  it('fire when a dead-letter queue holds a message, on its visible count', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ref(template, 'AWS::SQS::Queue', 'NotifyUserDlq'), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('fire when the oldest message on a main queue is 5 minutes old, unless told another age', () => {
    const oldest = (t: Template, seconds: number) =>
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ref(t, 'AWS::SQS::Queue', 'NotifyUserQueue'), 'QueueName'] } }],
        Threshold: seconds,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    oldest(template, 300);
    oldest(observedStack({ maxQueueMessageAge: Duration.minutes(15) }).template, 900);
  });

  it('watch every function for throttles, and for any error except the authorizer', () => {
    const notifyUser = ref(template, 'AWS::Lambda::Function', 'NotifyUser');
    for (const [metricName, fn] of [['Throttles', notifyUser], ['Errors', notifyUser], ['Throttles', ref(template, 'AWS::Lambda::Function', 'Authorize')]]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
      });
    }
    expect(Object.keys(observability.alarms)).toEqual(expect.arrayContaining(['NotifyUserErrors', 'NotifyUserThrottles', 'AuthorizeErrors', 'AuthorizeThrottles']));
  });

  it("watch the authorizer's share of failed calls, since refusing a connect without credential is an error to Lambda", () => {
    const authorize = { Ref: ref(template, 'AWS::Lambda::Function', 'Authorize') };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(invocations >= 10, 100 * errors / invocations, 0)', ReturnData: true }),
        Match.objectLike({ Id: 'errors', MetricStat: Match.objectLike({ Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: authorize }] } }) }),
        Match.objectLike({ Id: 'invocations', MetricStat: Match.objectLike({ Metric: { Namespace: 'AWS/Lambda', MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: authorize }] } }) }),
      ]),
      Threshold: 50,
    });
    // And no plain "any error" alarm on it.
    const onAuthorizeErrors = ofType(template, 'AWS::CloudWatch::Alarm').filter(
      ([, alarm]) => alarm.Properties['MetricName'] === 'Errors' && alarm.Properties['Dimensions'][0].Value.Ref === authorize.Ref,
    );
    expect(onAuthorizeErrors).toEqual([]);
  });

  it("watch the WebSocket stage's integration and execution errors, and the events API's 5xx, by ApiId and Stage", () => {
    const webSocket = [
      { Name: 'ApiId', Value: { Ref: ref(template, 'AWS::ApiGatewayV2::Api', 'Api') } },
      { Name: 'Stage', Value: 'live' },
    ];
    for (const metricName of ['IntegrationError', 'ExecutionError']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/ApiGateway', MetricName: metricName, Dimensions: webSocket, Statistic: 'Sum', Threshold: 1 });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [
        { Name: 'ApiId', Value: { Ref: ref(template, 'AWS::ApiGatewayV2::Api', 'EventsApi') } },
        { Name: 'Stage', Value: '$default' },
      ],
      Threshold: 1,
    });
  });

  it('fire on any message dead-lettered by the code, whatever its reason, read from the service dimension', () => {
    const byReason = (reason: string) =>
      Match.objectLike({
        MetricStat: Match.objectLike({
          Metric: {
            Namespace: METRICS_NAMESPACE,
            MetricName: MetricName.DeadLettered,
            Dimensions: [{ Name: 'reason', Value: reason }, { Name: 'service', Value: 'ws-notify-staging' }],
          },
          Stat: 'Sum',
        }),
      });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ws-notify-staging-DeadLettered',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: Match.stringLikeRegexp('^SUM\\(\\[FILL\\(') }),
        byReason('invalid_json'),
        byReason('invalid_message'),
        byReason('payload_too_large'),
        byReason('too_deep'),
        byReason('too_many_groups'),
        byReason('reserved_source'),
      ]),
      Threshold: 1,
    });
  });

  it('fire when deliveries are throttled in three 5-minute periods in a row', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: MetricName.DeliveriesThrottled,
      Dimensions: [{ Name: 'service', Value: 'ws-notify-staging' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
    });
  });

  it('each say what they mean and where the runbook is, count no data as fine, and notify no one by default', () => {
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(Object.keys(observability.alarms).length);
    for (const [, alarm] of alarms) {
      expect(alarm.Properties['AlarmDescription']).toMatch(/\. See docs\/operations\.md, "[^"]+"\.$/);
      expect(alarm.Properties['AlarmName']).toMatch(/^ws-notify-staging-/);
      expect(alarm.Properties['TreatMissingData']).toBe('notBreaching');
      expect(alarm.Properties['AlarmActions']).toBeUndefined();
    }
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('send ALARM and OK to the alarm topic when one is given', () => {
    const { template: withTopic } = observedStack({ alarmTopicInStack: true });
    const topic = { Ref: ref(withTopic, 'AWS::SNS::Topic', 'OpsTopic') };
    const alarms = ofType(withTopic, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(10);
    for (const [, alarm] of alarms) {
      expect(alarm.Properties['AlarmActions']).toEqual([topic]);
      expect(alarm.Properties['OKActions']).toEqual([topic]);
    }
  });
});

describe('the alarm settings', () => {
  it('refuse both a topic and an email, an address that is not one, an age under a minute, and an authorizer that is not a function', () => {
    expect(() => observedStack({ alarmTopicInStack: true, alarmEmail: 'ops@example.com' })).toThrow(/alarmTopic or alarmEmail, not both/);
    expect(() => observedStack({ alarmEmail: 'ops' })).toThrow(/alarmEmail must be an email address/);
    expect(() => observedStack({ maxQueueMessageAge: Duration.seconds(30) })).toThrow(/at least a minute/);
    expect(() => observedStack({ authorizers: ['Authorizer'] })).toThrow(/authorizer "Authorizer" is not one of the functions \(Authorize, NotifyUser\)/);
  });
});

/** The dashboard body with its tokens written as `<Ref X>` / `<GetAtt X.Y>`, parsed. */
function dashboardBody(template: Template): { widgets: { type: string; properties: Record<string, any> }[] } {
  const [[, dashboard]] = ofType(template, 'AWS::CloudWatch::Dashboard') as [[string, Resource]];
  const [, parts] = dashboard.Properties['DashboardBody']['Fn::Join'] as [string, unknown[]];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
      return token.Ref !== undefined ? `<Ref ${token.Ref}>` : `<GetAtt ${token['Fn::GetAtt']?.join('.')}>`;
    })
    .join('');
  return JSON.parse(text);
}

describe('the dashboard', () => {
  let template: Template;
  let observability: WsNotifyObservability;
  beforeAll(() => ({ template, observability } = observedStack()));

  it('is named after the service', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'ws-notify-staging' });
  });

  it('graphs every ws-notify metric of this service, and the dead-lettered ones by whatever reason', () => {
    const metrics = dashboardBody(template).widgets.flatMap((widget) => (widget.properties['metrics'] ?? []) as unknown[][]);
    const ours = metrics.filter((metric) => metric[0] === METRICS_NAMESPACE);
    for (const metricName of Object.values(MetricName).filter((name) => name !== MetricName.DeadLettered)) {
      expect(ours).toContainEqual([METRICS_NAMESPACE, metricName, 'service', 'ws-notify-staging', expect.any(Object)]);
    }
    const latency = ours.filter((metric) => metric[1] === MetricName.DeliveryLatency).map((metric) => (metric[4] as { stat: string }).stat);
    expect(latency).toEqual(['p50', 'p99']);
    const searches = metrics.map((metric) => (metric[0] as { expression?: string }).expression).filter((expression) => expression !== undefined);
    expect(searches).toEqual([`SEARCH('{WsNotify,reason,service} MetricName="DeadLettered" service="ws-notify-staging"', 'Sum', 60)`]);
  });

  it('graphs queue depth and age, function errors, throttles and concurrency, and both APIs', () => {
    const metricNames = new Set(
      dashboardBody(template)
        .widgets.flatMap((widget) => (widget.properties['metrics'] ?? []) as unknown[][])
        .map((metric) => `${metric[0]} ${metric[1]}`),
    );
    for (const expected of [
      'AWS/SQS ApproximateNumberOfMessagesVisible',
      'AWS/SQS ApproximateAgeOfOldestMessage',
      'AWS/Lambda Errors',
      'AWS/Lambda Throttles',
      'AWS/Lambda ConcurrentExecutions',
      'AWS/ApiGateway ConnectCount',
      'AWS/ApiGateway MessageCount',
      'AWS/ApiGateway IntegrationError',
      'AWS/ApiGateway ClientError',
      'AWS/ApiGateway 5xx',
    ]) {
      expect(metricNames).toContain(expected);
    }
  });

  it("shows every alarm's state", () => {
    const [alarmWidget] = dashboardBody(template).widgets.filter((widget) => widget.type === 'alarm');
    const alarmIds = ofType(template, 'AWS::CloudWatch::Alarm').map(([id]) => `<GetAtt ${id}.Arn>`);
    expect([...alarmWidget!.properties['alarms']].sort()).toEqual(alarmIds.sort());
    expect(alarmIds).toHaveLength(Object.keys(observability.alarms).length);
  });
});

describe('in the stack, deployed with -c alarmEmail', () => {
  let template: Template;
  beforeAll(() => {
    const app = new App({ context: { ...skipBundling, jwtIssuer: 'https://issuer.example.com', jwtAudience: 'my-app', alarmEmail: 'ops@example.com' } });
    template = Template.fromStack(new WsNotifyStack(app, 'WsNotifyOps', { ...wsNotifyPropsFromContext(app.node), env }));
  }, 120_000);

  it('watches every function the stack has for errors and throttles', () => {
    const functions = ofType(template, 'AWS::Lambda::Function').map(([id]) => id);
    const watched = (metricName: string) =>
      ofType(template, 'AWS::CloudWatch::Alarm').flatMap(([, alarm]) =>
        [alarm.Properties, ...((alarm.Properties['Metrics'] ?? []) as any[]).map((query) => query.MetricStat?.Metric ?? {})]
          .filter((metric) => metric.MetricName === metricName)
          .map((metric) => metric.Dimensions[0].Value.Ref),
      );
    expect(functions.length).toBeGreaterThanOrEqual(15);
    expect(new Set(watched('Errors'))).toEqual(new Set(functions));
    expect(new Set(watched('Throttles'))).toEqual(new Set(functions));
  });

  it("watches the three dead-letter queues, and the oldest message of every queue a function consumes (the topic fan-out's page queue too)", () => {
    for (const [metricName, queues] of [
      ['ApproximateNumberOfMessagesVisible', ['NotifyUserDeadLetterQueue', 'NotifyConnectionDeadLetterQueue', 'PublishDeadLetterQueue']],
      ['ApproximateAgeOfOldestMessage', ['NotifyUserQueue', 'NotifyConnectionQueue', 'PublishQueue', 'TopicPagesQueue']],
    ] as const) {
      const watched = ofType(template, 'AWS::CloudWatch::Alarm')
        .filter(([, alarm]) => alarm.Properties['MetricName'] === metricName)
        .map(([, alarm]) => alarm.Properties['Dimensions'][0].Value['Fn::GetAtt'][0]);
      expect(watched.sort()).toEqual(queues.map((queue) => ref(template, 'AWS::SQS::Queue', `WsNotify${queue}`)).sort());
    }
  });

  it('reads the ws-notify metrics under the stack name, the service name the functions report', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: METRICS_NAMESPACE, Dimensions: [{ Name: 'service', Value: 'WsNotifyOps' }] });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'WsNotifyOps' });
  });

  it('emails the address through a KMS-encrypted, SSL-only topic that only CloudWatch alarms of this account may publish to', () => {
    const [[topicId, topic]] = ofType(template, 'AWS::SNS::Topic') as [[string, Resource]];
    const keyId = ref(template, 'AWS::KMS::Key', 'WsNotifyObservabilityAlarmTopicKey');
    expect(topic.Properties['KmsMasterKeyId']).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId } });
    const fromThisAccount = Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Condition: fromThisAccount }),
        ]),
      },
    });
    // CloudWatch encrypts what it publishes: without this grant the alarms would be dropped.
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: fromThisAccount,
          }),
        ]),
      },
    });
    for (const [, alarm] of ofType(template, 'AWS::CloudWatch::Alarm')) {
      expect(alarm.Properties['AlarmActions']).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties['OKActions']).toEqual([{ Ref: topicId }]);
    }
  });
});

/** cdk-nag's errors from a synthesis, with the construct path each is on (none when synthesis passes). */
function nagErrors(app: App): { rule: string; path: string }[] {
  try {
    app.synth();
    return [];
  } catch (error) {
    const report = (error as Error).message;
    return [...report.matchAll(/^ERROR .*\n\s+(\S+) .*\n\s+Acknowledge with '[\w-]+::([\w-]+)/gm)].map(([, path, rule]) => ({ rule: rule!, path: path! }));
  }
}

describe('in the stack, deployed with -c ackTimeout', () => {
  it("watches the AckCheck and Undelivered dead-letter queues, and neither queue's oldest message: ack checks wait by design, a backend drains Undelivered at its pace", () => {
    const app = new App({ context: { ...skipBundling, ackTimeout: '120' } });
    const template = Template.fromStack(new WsNotifyStack(app, 'WsNotifyAcks', { ...wsNotifyPropsFromContext(app.node), env }));
    const watched = (metricName: string) =>
      ofType(template, 'AWS::CloudWatch::Alarm')
        .filter(([, alarm]) => alarm.Properties['MetricName'] === metricName)
        .map(([, alarm]) => alarm.Properties['Dimensions'][0].Value['Fn::GetAtt'][0] as string);

    expect(watched('ApproximateNumberOfMessagesVisible')).toEqual(
      expect.arrayContaining([ref(template, 'AWS::SQS::Queue', 'WsNotifyAckCheckDeadLetterQueue'), ref(template, 'AWS::SQS::Queue', 'WsNotifyUndeliveredDeadLetterQueue')]),
    );
    expect(watched('ApproximateAgeOfOldestMessage')).not.toContain(ref(template, 'AWS::SQS::Queue', 'WsNotifyAckCheckQueue'));
    expect(watched('ApproximateAgeOfOldestMessage')).not.toContain(ref(template, 'AWS::SQS::Queue', 'WsNotifyUndeliveredQueue'));
  }, 120_000);
});

describe('cdk-nag AwsSolutions checks', () => {
  it('find nothing in a stack with alarms, a dashboard and an email topic (and do run: a plain topic in the construct is caught)', () => {
    const app = new App({ context: skipBundling });
    new WsNotifyStack(app, 'Nagged', { jwtIssuer: 'https://issuer.example.com', jwtAudience: 'my-app', alarmEmail: 'ops@example.com', env });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const control = buildObservedStack({});
    // A topic without an SSL-only policy where the construct's own resources live.
    new Topic(control.observability, 'Plain');
    Validations.of(control.app).addPlugins(new AwsSolutionsChecks(control.app));

    expect(nagErrors(app)).toEqual([]);
    expect(nagErrors(control.app).filter(({ path }) => path.startsWith('Observed/Observability/Plain/')).map(({ rule }) => rule)).toEqual(['AwsSolutions-SNS3']);
  }, 120_000);
});
