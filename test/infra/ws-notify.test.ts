import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { wsNotifyPropsFromContext } from '../../lib/app-context';
import { WsNotify } from '../../lib/ws-notify';
import { WsNotifyStack } from '../../lib/ws-notify-stack';
import { METRICS_NAMESPACE } from '../../lambdas/contract/metric-names';

const props = { jwtIssuer: 'https://issuer.example.com', jwtAudience: 'my-app' };
/** As `cdk deploy` synthesizes: a concrete account and region. Bundling is skipped: these tests read the template. */
const env = { account: '123456789012', region: 'eu-west-1' };
const newStack = (id = 'Configured') => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id, { env });

let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, any> }>;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new WsNotifyStack(app, 'WsNotify', { ...props, env });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
}, 120_000);

function ofType(type: string) {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

function functionLogicalId(handlerEnvSignature: string): string {
  const match = ofType('AWS::Lambda::Function').find(([id]) => id.includes(handlerEnvSignature));
  if (!match) throw new Error(`no function like ${handlerEnvSignature}`);
  return match[0];
}

/** Every action the function's role may take, with the resources, as the template states them. */
function permissionsOf(functionName: string): { actions: string[]; resources: unknown[] } {
  const fn = resources[functionLogicalId(functionName)]!;
  const roleId = fn.Properties['Role']['Fn::GetAtt'][0];
  const statements = ofType('AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties['Roles'].some((role: any) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties['PolicyDocument'].Statement as any[]);
  return {
    actions: statements.flatMap((s) => [s.Action].flat()).sort(),
    resources: statements.flatMap((s) => [s.Resource].flat()),
  };
}

describe('the WebSocket API', () => {
  it('selects routes on $request.body.action', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('has exactly the $connect, $disconnect, $default, ping, authenticate, subscribe, unsubscribe, publish, resume, history and ack routes', () => {
    const routeKeys = ofType('AWS::ApiGatewayV2::Route')
      .map(([, route]) => route.Properties['RouteKey'] as string)
      .filter((routeKey) => !routeKey.startsWith('POST /'));
    expect(routeKeys.sort()).toEqual(['$connect', '$default', '$disconnect', 'ack', 'authenticate', 'history', 'ping', 'publish', 'resume', 'subscribe', 'unsubscribe']);
  });

  it('has no resume or history route (nor their functions) with history: false', () => {
    const stack = newStack();
    const wsNotify = new WsNotify(stack, 'WsNotify', { ...props, history: false });
    const routeKeys = Object.values(Template.fromStack(stack).findResources('AWS::ApiGatewayV2::Route')).map((route) => route['Properties']['RouteKey']);

    expect(routeKeys).not.toContain('resume');
    expect(routeKeys).not.toContain('history');
    expect(Object.keys(wsNotify.functions)).not.toContain('Resume');
  }, 120_000);

  it('protects $connect with a REQUEST Lambda authorizer that has no identity source to pre-check', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$connect',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: Match.anyValue(),
    });
    const [[, authorizer]] = ofType('AWS::ApiGatewayV2::Authorizer') as [[string, any]];
    expect(authorizer.Properties.AuthorizerType).toBe('REQUEST');
    // A listed source that is missing gets a 401 before our code runs; tokens arrive in three places.
    expect(authorizer.Properties.IdentitySource ?? []).toEqual([]);
  });

  it('answers every client action and $default through route responses', () => {
    const routeKeys = ['ping', 'authenticate', 'subscribe', 'unsubscribe', 'publish', 'resume', 'history', 'ack', '$default'];
    for (const routeKey of routeKeys) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, RouteResponseSelectionExpression: '$default' });
    }
    template.resourceCountIs('AWS::ApiGatewayV2::RouteResponse', routeKeys.length);
  });

  it('has one auto-deployed stage with default route throttling and JSON access logs', () => {
    // This one, and the events ingress's $default.
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'live',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
        Format: Match.serializedJson(Match.objectLike({ connectionId: '$context.connectionId', routeKey: '$context.routeKey' })),
      },
    });
  });

  it("sets the account's API Gateway CloudWatch role that WebSocket access logging needs, and keeps both when the stack goes", () => {
    template.hasResource('AWS::ApiGateway::Account', {
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    const [[, account]] = ofType('AWS::ApiGateway::Account') as [[string, any]];
    const role = template.toJSON().Resources[account.Properties.CloudWatchRoleArn['Fn::GetAtt'][0]];
    expect(role).toMatchObject({ Type: 'AWS::IAM::Role', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    // The access-logged stage is created after the setting, or its first deployment fails.
    const [stageId] = ofType('AWS::ApiGatewayV2::Stage').find(([, stage]) => stage.Properties['StageName'] === 'live')!;
    expect(template.toJSON().Resources[stageId].DependsOn).toContain(ofType('AWS::ApiGateway::Account')[0]![0]);
  });

  it('leaves the account setting alone when configureApiGatewayAccountLogging is false', () => {
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, configureApiGatewayAccountLogging: false });
    Template.fromStack(stack).resourceCountIs('AWS::ApiGateway::Account', 0);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Role', 18);
  });
});

describe('the streams table (history)', () => {
  const environmentOf = (t: Template, id: string) =>
    Object.entries(t.findResources('AWS::Lambda::Function')).find(([logicalId]) => logicalId.includes(`${id}Function`))![1]['Properties']['Environment']['Variables'];

  it('is keyed by stream and seq (a number), on demand, point-in-time recoverable, encrypted, with expiresAt as TTL, retained by default', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [
          { AttributeName: 'stream', KeyType: 'HASH' },
          { AttributeName: 'seq', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'stream', AttributeType: 'S' },
          { AttributeName: 'seq', AttributeType: 'N' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: Match.absent(),
      },
      DeletionPolicy: 'Retain',
    });
    expect(ofType('AWS::DynamoDB::Table').filter(([id]) => id.startsWith('WsNotifyStreams'))).toHaveLength(1);
  });

  it.each(['NotifyUser', 'TopicFanOut', 'Resume', 'History', 'Subscribe'])('gives %s the table and the defaults: 24 h of history, 1,000 entries per stream, replays of 1,000', (fn) => {
    expect(environmentOf(template, fn)).toMatchObject({
      STREAMS_TABLE_NAME: { Ref: expect.stringMatching(/^WsNotifyStreams/) },
      HISTORY_TTL_SECONDS: '86400',
      HISTORY_MAX_ENTRIES: '1000',
      REPLAY_LIMIT: '1000',
    });
    expect(permissionsOf(`${fn}Function`).resources).toContainEqual({ 'Fn::GetAtt': [expect.stringMatching(/^WsNotifyStreams/), 'Arn'] });
  });

  it('takes historyTtl, historyMaxEntries and replayLimit, and refuses values out of range or without history', () => {
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, historyTtl: Duration.minutes(5), historyMaxEntries: 50, replayLimit: 20 });
    expect(environmentOf(Template.fromStack(stack), 'NotifyUser')).toMatchObject({ HISTORY_TTL_SECONDS: '300', HISTORY_MAX_ENTRIES: '50', REPLAY_LIMIT: '20' });
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, historyTtl: Duration.days(400) })).toThrow(/historyTtl must be a whole number of seconds from 1 second to 365 days/);
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, historyMaxEntries: 0 })).toThrow(/historyMaxEntries must be a whole number from 1 to 100000/);
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, replayLimit: 10_001 })).toThrow(/replayLimit must be a whole number from 1 to 10000/);
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, history: false, historyTtl: Duration.hours(1) })).toThrow(/need history/);
  }, 120_000);

  it('is not made with history: false, and no function is told of streams', () => {
    const stack = newStack();
    const wsNotify = new WsNotify(stack, 'WsNotify', { ...props, history: false });
    const withoutHistory = Template.fromStack(stack);

    expect(wsNotify.streamsTable).toBeUndefined();
    expect(Object.keys(withoutHistory.findResources('AWS::DynamoDB::Table')).filter((id) => id.startsWith('WsNotifyStreams'))).toEqual([]);
    for (const fn of ['NotifyUser', 'TopicFanOut']) expect(environmentOf(withoutHistory, fn)).not.toHaveProperty('STREAMS_TABLE_NAME');
  }, 120_000);
});

describe('acks and the offline fallback (ackTimeout)', () => {
  const environmentOf = (t: Template, id: string) =>
    Object.entries(t.findResources('AWS::Lambda::Function')).find(([logicalId]) => logicalId.includes(`${id}Function`))![1]['Properties']['Environment']['Variables'];
  const policyOf = (t: Template, fn: string) =>
    Object.entries(t.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes(`${fn}FunctionServiceRoleDefaultPolicy`))
      .flatMap(([, policy]) => policy['Properties']['PolicyDocument']['Statement'] as { Action: string | string[]; Resource: unknown }[]);
  const actionsOn = (t: Template, fn: string, resourcePrefix: RegExp) =>
    policyOf(t, fn)
      .filter((statement) => JSON.stringify(statement.Resource).match(resourcePrefix))
      .flatMap((statement) => [statement.Action].flat())
      .sort();
  let withTimeout: Template;
  let wsNotify: WsNotify;
  beforeAll(() => {
    const stack = newStack('AckTimeout');
    wsNotify = new WsNotify(stack, 'WsNotify', { ...props, ackTimeout: Duration.minutes(2) });
    withTimeout = Template.fromStack(stack);
  }, 120_000);

  it('keeps acked positions in an Acks table keyed by stream, on demand, encrypted, recoverable, with expiresAt as TTL', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'stream', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('lets the Ack function query the streams and update the Acks table, nothing more', () => {
    expect(actionsOn(template, 'Ack', /WsNotifyAcks/)).toEqual(['dynamodb:UpdateItem']);
    expect(actionsOn(template, 'Ack', /WsNotifyStreams/)).toEqual(['dynamodb:Query']);
    expect(environmentOf(template, 'Ack')).toMatchObject({ ACKS_TABLE_NAME: { Ref: expect.stringMatching(/^WsNotifyAcks/) }, HISTORY_TTL_SECONDS: '86400' });
  });

  it('makes no AckCheck or Undelivered queue by default, and NotifyUser sends no check', () => {
    expect(ofType('AWS::SQS::Queue').filter(([id]) => /AckCheck|Undelivered/.test(id))).toEqual([]);
    expect(environmentOf(template, 'NotifyUser')).not.toHaveProperty('ACK_CHECK_QUEUE_URL');
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('UndeliveredQueueUrl');
  });

  it('holds each check in the AckCheck queue for ackTimeout, its consumer dead-lettering after 5 receives', () => {
    withTimeout.hasResourceProperties('AWS::SQS::Queue', {
      DelaySeconds: 120,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WsNotifyAckCheckDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
    withTimeout.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WsNotifyAckCheckQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
    expect(environmentOf(withTimeout, 'NotifyUser')).toMatchObject({ ACK_CHECK_QUEUE_URL: { Ref: expect.stringMatching(/^WsNotifyAckCheckQueue/) } });
    expect(actionsOn(withTimeout, 'NotifyUser', /WsNotifyAckCheckQueue/)).toEqual(['sqs:SendMessage']);
  });

  it('sends unacked notifications to an encrypted FIFO Undelivered queue (deduplicated, ordered per user) with its own FIFO dead-letter queue, kept 14 days', () => {
    withTimeout.hasResource('AWS::SQS::Queue', {
      Properties: {
        FifoQueue: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        MessageRetentionPeriod: 14 * 24 * 3600,
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WsNotifyUndeliveredDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
      },
      DeletionPolicy: 'Retain',
    });
    withTimeout.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, MessageRetentionPeriod: 14 * 24 * 3600, RedrivePolicy: Match.absent() });
    expect(wsNotify.undeliveredQueue).toBeDefined();
    expect(actionsOn(withTimeout, 'AckCheck', /WsNotifyUndeliveredQueue/)).toEqual(['sqs:SendMessage']);
    expect(actionsOn(withTimeout, 'AckCheck', /WsNotifyAcks/)).toEqual(['dynamodb:GetItem']);
    expect(actionsOn(withTimeout, 'AckCheck', /WsNotifyStreams/)).toEqual(['dynamodb:UpdateItem']);
  });

  it('takes ackTimeout from 1 second to 15 minutes, shorter than historyTtl, and only with history', () => {
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, ackTimeout: Duration.minutes(16) })).toThrow(/ackTimeout must be a whole number of seconds from 1 second to 15 minutes/);
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, ackTimeout: Duration.millis(500) })).toThrow(/ackTimeout must be a whole number/);
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, ackTimeout: Duration.minutes(5), historyTtl: Duration.minutes(5) })).toThrow(/shorter than historyTtl/);
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, ackTimeout: Duration.minutes(2), history: false })).toThrow(/ackTimeout needs history/);
  }, 120_000);

  it('has no Acks table, ack route or Ack function with history: false', () => {
    const stack = newStack('NoHistory');
    const noHistory = new WsNotify(stack, 'WsNotify', { ...props, history: false });
    const t = Template.fromStack(stack);
    expect(noHistory.acksTable).toBeUndefined();
    expect(Object.keys(t.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: 'ack' } }))).toEqual([]);
    expect(Object.keys(noHistory.functions)).not.toContain('Ack');
  }, 120_000);

  it('passes cdk-nag with ackTimeout on', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new WsNotifyStack(app, 'NaggedAcks', { ...props, ackTimeout: Duration.minutes(2) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  }, 120_000);
});

describe('the connection counts table', () => {
  it('is keyed by owner (a user or an API key), on demand, point-in-time recoverable, encrypted, with expiresAt as TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('gives $connect the limits, 25 per user and 25 per API key unless set, and refuses one that is not a whole number from 1 to 1000', () => {
    const connectEnvironment = (t: Template) =>
      Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.includes('ConnectFunction'))![1]['Properties']['Environment']['Variables'];
    expect(connectEnvironment(template)).toMatchObject({ MAX_CONNECTIONS_PER_USER: '25', MAX_CONNECTIONS_PER_API_KEY: '25' });
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, maxConnectionsPerUser: 5, maxConnectionsPerApiKey: 300 });
    expect(connectEnvironment(Template.fromStack(stack))).toMatchObject({ MAX_CONNECTIONS_PER_USER: '5', MAX_CONNECTIONS_PER_API_KEY: '300' });
    for (const value of [0, 2.5, -1, 1001, Number.NaN]) {
      expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, maxConnectionsPerUser: value })).toThrow(/maxConnectionsPerUser must be a whole number from 1 to 1000/);
      expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, maxConnectionsPerApiKey: value })).toThrow(/maxConnectionsPerApiKey must be a whole number from 1 to 1000/);
    }
  }, 120_000);

  it.each(['ConnectFunction', 'DisconnectFunction', 'NotifyUserFunction', 'NotifyConnectionFunction', 'CredentialSweepFunction'])(
    'lets %s update the counts table (to take removed connections out of their sets)',
    (fn) => {
      expect(permissionsOf(fn).resources).toContainEqual({ 'Fn::GetAtt': [expect.stringMatching(/^WsNotifyConnectionCounts/), 'Arn'] });
    },
  );
});

describe('the connection table', () => {
  it('is keyed by connectionId, on demand, point-in-time recoverable, encrypted, with expiresAt as TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('has a GSI by userId that carries expiresAt and tenant for fan-out, one by credential expiry minute, and one by API key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byUser',
          KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['expiresAt', 'tenant'] },
        },
        {
          IndexName: 'byCredentialExpiry',
          KeySchema: [
            { AttributeName: 'expiryBucket', KeyType: 'HASH' },
            { AttributeName: 'credentialExpiresAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        { IndexName: 'byApiKey', KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
      ],
    });
  });

  it('is retained by default, and removed when the removal policy says so', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });

    const stack = newStack('Disposable');
    new WsNotify(stack, 'WsNotify', { ...props, removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});

describe('the queues', () => {
  it.each(['NotifyUserQueue', 'NotifyConnectionQueue'])('%s has its own DLQ, SSE and a visibility timeout ≥ 6× its consumer timeout', (name) => {
    const [queueId, queue] = ofType('AWS::SQS::Queue').find(([id]) => id.includes(name) && !id.includes('DeadLetter'))!;
    const [deadLetterId] = ofType('AWS::SQS::Queue').find(([id]) => id.includes(name.replace('Queue', 'DeadLetterQueue')))!;
    const consumer = ofType('AWS::Lambda::EventSourceMapping').find(
      ([, esm]) => esm.Properties['EventSourceArn']['Fn::GetAtt'][0] === queueId,
    )![1];
    const consumerTimeout = resources[consumer.Properties['FunctionName'].Ref]!.Properties['Timeout'];

    expect(queue.Properties['SqsManagedSseEnabled']).toBe(true);
    expect(queue.Properties['RedrivePolicy']).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(queue.Properties['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * consumerTimeout);
  });

  it('encrypts every queue, dead-letter queues included, and refuses non-TLS access to each', () => {
    const queues = ofType('AWS::SQS::Queue');
    expect(queues).toHaveLength(7);
    for (const [id, queue] of queues) {
      expect(queue.Properties['SqsManagedSseEnabled']).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('keep dead letters 14 days, and keep the dead-letter queues on stack deletion as the tables are, unless the removal policy says so', () => {
    const deadLetterQueues = (source: Template) =>
      Object.entries(source.findResources('AWS::SQS::Queue')).filter(([id]) => id.includes('DeadLetterQueue')).map(([, queue]) => queue);
    expect(deadLetterQueues(template)).toHaveLength(3);
    for (const queue of deadLetterQueues(template)) {
      expect(queue).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: { MessageRetentionPeriod: 14 * 24 * 3600 } });
    }

    const stack = newStack('Disposable');
    new WsNotify(stack, 'WsNotify', { ...props, removalPolicy: RemovalPolicy.DESTROY });
    for (const queue of deadLetterQueues(Template.fromStack(stack))) expect(queue).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  it('bound each consumer\'s concurrency: NotifyUser 20, NotifyConnection 40, Publish 10 unless set', () => {
    const concurrencyOf = (source: Template) =>
      Object.fromEntries(
        Object.values(source.findResources('AWS::Lambda::EventSourceMapping')).map((mapping) => [
          /WsNotify(\w+)Queue/.exec(mapping['Properties']['EventSourceArn']['Fn::GetAtt'][0])![1],
          mapping['Properties']['ScalingConfig']['MaximumConcurrency'],
        ]),
      );
    // The topic fan-out's page queue shares the Publish consumers' bound.
    expect(concurrencyOf(template)).toEqual({ NotifyUser: 20, NotifyConnection: 40, Publish: 10, TopicPages: 10 });

    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, notifyUserConcurrency: 2, notifyConnectionConcurrency: 1000, publishConcurrency: 50 });
    expect(concurrencyOf(Template.fromStack(stack))).toEqual({ NotifyUser: 2, NotifyConnection: 1000, Publish: 50, TopicPages: 50 });
  });

  it.each([
    ['notifyUserConcurrency', 1],
    ['notifyConnectionConcurrency', 1001],
    ['publishConcurrency', 2.5],
  ])('refuse %s = %d: Lambda takes 2 to 1000', (prop, value) => {
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, [prop]: value })).toThrow(
      `WsNotify: ${prop} must be a whole number from 2 to 1000 (Lambda's SQS maximum concurrency), not ${value}.`,
    );
  });

  it("feeds the topic fan-out from the Publish queue and from its own page queue, which only the fan-out, Publish and EventsIngress functions may send to", () => {
    const queueId = (name: string) => ofType('AWS::SQS::Queue').find(([id]) => id.includes(name) && !id.includes('DeadLetter'))![0];
    const [pages, publish] = [queueId('TopicPagesQueue'), queueId('PublishQueue')];
    const fanOut = functionLogicalId('TopicFanOutFunction');
    const fanOutRole = resources[fanOut]!.Properties['Role']['Fn::GetAtt'][0];
    const [publishRole, ingressRole] = ['PublishFunction', 'EventsIngressFunction'].map((id) => resources[functionLogicalId(id)]!.Properties['Role']['Fn::GetAtt'][0]);
    const sources = ofType('AWS::Lambda::EventSourceMapping')
      .filter(([, mapping]) => mapping.Properties['FunctionName'].Ref === fanOut)
      .map(([, mapping]) => mapping.Properties['EventSourceArn']['Fn::GetAtt'][0]);
    expect(sources.sort()).toEqual([publish, pages].sort());
    expect(resources[fanOut]!.Properties['Environment']['Variables']).toMatchObject({
      TOPIC_PAGES_QUEUE_URL: { Ref: pages },
      TOPIC_PAGES_QUEUE_ARN: { 'Fn::GetAtt': [pages, 'Arn'] },
    });
    expect(resources[fanOut]!.Properties['Environment']['Variables']).not.toHaveProperty('PUBLISH_QUEUE_URL');

    // The queue policy denies SendMessage to every principal of any account but these three roles…
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: pages }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [pages, 'Arn'] },
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': [fanOutRole, publishRole, ingressRole].map((role) => ({ 'Fn::GetAtt': [role, 'Arn'] })) } },
          },
        ]),
      },
    });
    // …and no other function is granted SendMessage on it; none of them on the Publish queue, whose events are a backend's.
    const sendersTo = (queue: string) =>
      ofType('AWS::IAM::Policy')
        .filter(([, policy]) =>
          (policy.Properties['PolicyDocument'].Statement as any[]).some(
            (statement) => [statement.Action].flat().includes('sqs:SendMessage') && JSON.stringify(statement.Resource).includes(`"${queue}"`),
          ),
        )
        .flatMap(([, policy]) => policy.Properties['Roles'].map((role: { Ref: string }) => role.Ref));
    expect(sendersTo(pages).sort()).toEqual([fanOutRole, publishRole, ingressRole].sort());
    expect(sendersTo(publish)).toEqual([]);
  });

  it('feeds each consumer in batches of at most 10, with no batching window, reporting batch item failures', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(4);
    for (const [, mapping] of mappings) {
      expect(mapping.Properties['BatchSize']).toBeLessThanOrEqual(10);
      expect(mapping.Properties['MaximumBatchingWindowInSeconds'] ?? 0).toBe(0);
      expect(mapping.Properties['FunctionResponseTypes']).toEqual(['ReportBatchItemFailures']);
    }
  });
});

describe('the functions', () => {
  it('are eighteen Node.js 22 functions on arm64 with JSON logs into log groups of bounded retention', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(18);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
      });
      const logGroup = resources[fn.Properties['LoggingConfig'].LogGroup.Ref]!;
      expect(logGroup.Properties['RetentionInDays']).toBe(30);
    }
  });

  it("write their metrics to the WsNotify namespace, with the stack's name as the service, so two stacks never mix", () => {
    const functions = ofType('AWS::Lambda::Function');
    for (const [, fn] of functions) {
      expect(fn.Properties['Environment']['Variables']).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME: 'WsNotify' });
    }
    // Bundling skipped: only the environment matters here.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stacks = ['Production', 'Staging'].map((name) => new WsNotifyStack(app, name, props));
    const services = stacks.map((stack) => {
      const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
      return new Set(Object.values(functions).map((fn) => fn['Properties']['Environment']['Variables']['POWERTOOLS_SERVICE_NAME']));
    });
    expect(services).toEqual([new Set(['Production']), new Set(['Staging'])]);
  });

  it('are exposed by id, each the function of that name in the template', () => {
    const stack = newStack();
    const wsNotify = new WsNotify(stack, 'WsNotify', props);
    const ids = Object.keys(wsNotify.functions);
    expect(ids.sort()).toEqual(
      ['Ack', 'Authenticate', 'Authorize', 'Connect', 'CredentialSweep', 'Default', 'Disconnect', 'EventsAuthorizer', 'EventsIngress', 'History', 'NotifyConnection', 'NotifyUser', 'Ping', 'Publish', 'Resume', 'Subscribe', 'TopicFanOut', 'Unsubscribe'],
    );
    expect(stack.resolve(wsNotify.functions['NotifyUser']!.functionName)).toEqual({ Ref: expect.stringMatching(/^WsNotifyNotifyUserFunction/) });
  });

  it('give the authorizer the issuer, the audience and the JWKS URI, defaulting to the issuer\'s well-known path', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          JWT_ISSUER: 'https://issuer.example.com',
          JWT_AUDIENCE: 'my-app',
          JWKS_URI: 'https://issuer.example.com/.well-known/jwks.json',
        }),
      },
    });
  });
});

describe('the API key table', () => {
  it('is keyed by keyId, on demand, point-in-time recoverable, encrypted, without TTL (expired keys stay listed)', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: Match.absent(),
    });
  });

  it("has a GSI by user that carries all but the secret's hash, and one by revocation minute", () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byUser',
          KeySchema: [
            { AttributeName: 'userId', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['tenant', 'scope', 'expiresAt', 'revokedAt', 'topics', 'publishTopics'] },
        },
        {
          IndexName: 'byRevocation',
          KeySchema: [
            { AttributeName: 'revocationBucket', KeyType: 'HASH' },
            { AttributeName: 'revokedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('is named to the authorizer and the credential sweep', () => {
    const keysTable = { Ref: ofType('AWS::DynamoDB::Table').find(([, table]) => table.Properties['KeySchema'][0].AttributeName === 'keyId')![0] };
    for (const fn of ['AuthorizeFunction', 'CredentialSweepFunction']) {
      expect(resources[functionLogicalId(fn)]?.Properties['Environment']['Variables']['API_KEYS_TABLE_NAME']).toEqual(keysTable);
    }
  });
});

describe('the subscription table', () => {
  it('is keyed by topic and connection, on demand, recoverable, encrypted, with the connection TTL, and indexed by connection', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'topicKey', KeyType: 'HASH' },
        { AttributeName: 'connectionId', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byConnection',
          KeySchema: [
            { AttributeName: 'connectionId', KeyType: 'HASH' },
            { AttributeName: 'topicKey', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('gives the events ingress the IAM principals its IAM route takes (none unless set: any the account allows), and refuses a pattern that is not an IAM ARN', () => {
    expect(resources[functionLogicalId('EventsIngress')]?.Properties['Environment'].Variables).not.toHaveProperty('IAM_PRINCIPALS');
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    const principals = ['arn:aws:iam::123456789012:user/ci', 'arn:aws:sts::123456789012:assumed-role/publisher/*'];
    new WsNotify(stack, 'WsNotify', { ...props, eventsIamPrincipals: principals });
    const scoped = Template.fromStack(stack).toJSON().Resources as typeof resources;
    const ingress = Object.entries(scoped).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.includes('EventsIngress'));
    expect(ingress?.[1].Properties['Environment'].Variables).toMatchObject({ IAM_PRINCIPALS: JSON.stringify(principals) });
    for (const eventsIamPrincipals of [[], ['*'], ['123456789012'], ['arn:aws:s3:::bucket']]) {
      expect(() => new WsNotify(new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } })), 'WsNotify', { ...props, eventsIamPrincipals })).toThrow(/eventsIamPrincipals/);
    }
  }, 120_000);

  it('gives the subscribe route the public topics, and refuses a malformed one', () => {
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, publicTopics: ['news', 'status.*'] });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PUBLIC_TOPICS: '["news","status.*"]' }) },
    });
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, publicTopics: ['has space'] })).toThrow(/publicTopics/);
  }, 120_000);

  it('gives the subscribe route and authenticate the public groups, and refuses a malformed one', () => {
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, publicGroups: ['lobby#viewers', 'status.*'] });
    const template = Template.fromStack(stack);
    for (const id of ['SubscribeFunction', 'AuthenticateFunction']) {
      const [, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([logicalId]) => logicalId.includes(id))!;
      expect(fn['Properties']['Environment']['Variables']).toMatchObject({ PUBLIC_GROUPS: '["lobby#viewers","status.*"]' });
    }
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, publicGroups: ['lobby#a b'] })).toThrow(/publicGroups/);
  }, 120_000);

  it('gives the subscribe route the subscription limit, 100 unless set, and refuses one that is not a whole number of at least 1', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PUBLIC_TOPICS: '[]', MAX_SUBSCRIPTIONS_PER_CONNECTION: '100' }) },
    });
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, maxSubscriptionsPerConnection: 500 });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '500' }) },
    });
    for (const maxSubscriptionsPerConnection of [0, 2.5, -1, Number.NaN]) {
      expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, maxSubscriptionsPerConnection })).toThrow(/maxSubscriptionsPerConnection/);
    }
  }, 120_000);
});

describe('enrichment', () => {
  it('gives the topic fan-out the enrichers by pattern, permission to invoke them, and the user index for the users they name', () => {
    const stack = newStack();
    const enrich = new Function(stack, 'Enrich', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async (e) => e') });
    new WsNotify(stack, 'WsNotify', { ...props, enrichers: { 'orders.*': enrich } });
    const configured = Template.fromStack(stack);

    configured.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ENRICHERS: Match.anyValue(), CONNECTIONS_TABLE_NAME: Match.anyValue(), TOPIC_PAGES_QUEUE_URL: Match.anyValue() }) },
    });
    configured.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction' })]) },
    });
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, enrichers: { 'a b': enrich } })).toThrow(/enrichers/);
  }, 120_000);

  it('bundles the Lambda client into the topic fan-out only in a stack with enrichers', () => {
    const app = new App();
    const plain = new Stack(app, 'Plain');
    new WsNotify(plain, 'WsNotify', props);
    const enriched = new Stack(app, 'Enriched');
    const enrich = new Function(enriched, 'Enrich', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async (e) => e') });
    new WsNotify(enriched, 'WsNotify', { ...props, enrichers: { orders: enrich } });
    const assembly = app.synth();

    const topicFanOutBundle = (stack: Stack): string => {
      const [, fn] = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function')).find(([id]) => id.includes('TopicFanOut'))!;
      const assetHash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
      return readFileSync(path.join(assembly.directory, `asset.${assetHash}`, 'index.js'), 'utf8');
    };
    // keepNames keeps the command's class name in the bundle.
    expect(topicFanOutBundle(enriched)).toContain('InvokeCommand');
    expect(topicFanOutBundle(plain)).not.toContain('InvokeCommand');
    expect(topicFanOutBundle(plain)).toContain('SendMessageBatchCommand');
  }, 240_000);
});

describe('the events ingress', () => {
  it('is an HTTP API with POST /topics/{topic}/events behind an uncached Lambda authorizer, and an IAM twin', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /topics/{topic}/events', AuthorizationType: 'CUSTOM' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /iam/topics/{topic}/events', AuthorizationType: 'AWS_IAM' });
    const authorizers = ofType('AWS::ApiGatewayV2::Authorizer').map(([, authorizer]) => authorizer.Properties);
    expect(authorizers).toContainEqual(
      expect.objectContaining({ AuthorizerType: 'REQUEST', EnableSimpleResponses: true, AuthorizerPayloadFormatVersion: '2.0', AuthorizerResultTtlInSeconds: 0 }),
    );
  });

  it('has a throttled, access-logged $default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, Format: Match.anyValue() },
    });
  });
});

describe('the credential sweep', () => {
  it('runs every minute, with time to wait a minute for credentials about to expire', () => {
    const [[, rule]] = ofType('AWS::Events::Rule') as [[string, any]];
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(rule.Properties.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [functionLogicalId('CredentialSweep'), 'Arn'] } })]);
    expect(resources[functionLogicalId('CredentialSweep')]?.Properties['Timeout']).toBe(90);
  });

  it('gives authenticate the same issuer, audience and keys as the authorizer', () => {
    const [authorizer, authenticate] = ['Authorize', 'Authenticate'].map(
      (id) => resources[functionLogicalId(`${id}Function`)]?.Properties['Environment']['Variables'],
    );
    for (const name of ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI']) expect(authenticate[name]).toEqual(authorizer[name]);
  });
});

describe('anonymous access and tenants', () => {
  const environmentOf = (source: Template, handlerSignature: RegExp) =>
    Object.values(source.findResources('AWS::Lambda::Function'))
      .map((fn) => fn['Properties']['Environment']['Variables'] as Record<string, unknown>)
      .filter((variables) => Object.keys(variables).some((name) => handlerSignature.test(name)));

  it('are off by default: the authorizer refuses a missing credential and knows no tenant claim', () => {
    const [authorizer] = environmentOf(template, /^ALLOW_ANONYMOUS$/);
    expect(authorizer).toMatchObject({ ALLOW_ANONYMOUS: 'false' });
    expect(authorizer).not.toHaveProperty('TENANT_CLAIM');
  });

  it('give the authorizer and the NotifyUser fan-out the tenant claim, and the authorizer the anonymous switch', () => {
    const stack = newStack();
    new WsNotify(stack, 'WsNotify', { ...props, allowAnonymous: true, tenantClaim: 'org' });
    const configured = Template.fromStack(stack);

    expect(environmentOf(configured, /^ALLOW_ANONYMOUS$/)[0]).toMatchObject({ ALLOW_ANONYMOUS: 'true', TENANT_CLAIM: 'org' });
    expect(environmentOf(configured, /^NOTIFY_CONNECTION_QUEUE_URL$/)[0]).toMatchObject({ TENANT_CLAIM: 'org' });
  }, 120_000);

  it.each(['sub', 'exp', 'org name', ''])('refuses %j as the tenant claim', (tenantClaim) => {
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, tenantClaim })).toThrow(/tenantClaim must name a custom JWT claim/);
  });
});

describe('auth modes: JWT, API keys, anonymous', () => {
  const authorizeOf = (source: Template) => {
    const [id, fn] = Object.entries(source.findResources('AWS::Lambda::Function')).find(([logicalId]) => logicalId.includes('AuthorizeFunction'))!;
    const roleId = fn['Properties']['Role']['Fn::GetAtt'][0];
    const actions = Object.values(source.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy['Properties']['Roles'].some((role: any) => role.Ref === roleId))
      .flatMap((policy) => (policy['Properties']['PolicyDocument'].Statement as any[]).flatMap((s) => [s.Action].flat()));
    return { id, environment: fn['Properties']['Environment']['Variables'] as Record<string, unknown>, actions };
  };
  const apig4Reason = (wsNotify: WsNotify) =>
    wsNotify.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .find(([id]) => id.endsWith('AwsSolutions-APIG4'))?.[1];

  it('accept JWTs and API keys by default, and anonymous clients only when allowed', () => {
    expect(authorizeOf(template).environment).toMatchObject({ ACCEPT_API_KEYS: 'true', ALLOW_ANONYMOUS: 'false', JWT_ISSUER: props.jwtIssuer });
    expect(authorizeOf(template).actions).toEqual(['dynamodb:GetItem']);
  });

  it('without jwtIssuer and jwtAudience: API keys only, and neither the authorizer nor authenticate knows an issuer', () => {
    const stack = newStack();
    const wsNotify = new WsNotify(stack, 'WsNotify', {});
    const configured = Template.fromStack(stack);

    const authorize = authorizeOf(configured);
    expect(authorize.environment).toMatchObject({ ACCEPT_API_KEYS: 'true', ALLOW_ANONYMOUS: 'false', API_KEYS_TABLE_NAME: expect.anything() });
    const authenticate = Object.entries(configured.findResources('AWS::Lambda::Function')).find(([id]) => id.includes('AuthenticateFunction'))![1];
    for (const environment of [authorize.environment, authenticate['Properties']['Environment']['Variables']]) {
      for (const name of ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI']) expect(environment).not.toHaveProperty(name);
    }
    expect(apig4Reason(wsNotify)).toMatch(/admits API keys from its key table, and every other route/);
  });

  it('with apiKeys false: the authorizer neither accepts keys nor may read the key table, which stays for the events ingress', () => {
    const stack = newStack();
    const wsNotify = new WsNotify(stack, 'WsNotify', { ...props, apiKeys: false });
    const configured = Template.fromStack(stack);

    const authorize = authorizeOf(configured);
    expect(authorize.environment).toMatchObject({ ACCEPT_API_KEYS: 'false', JWT_ISSUER: props.jwtIssuer });
    expect(authorize.environment).not.toHaveProperty('API_KEYS_TABLE_NAME');
    expect(authorize.actions).toEqual([]);
    configured.hasResourceProperties('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }] });
    expect(apig4Reason(wsNotify)).toMatch(/admits JWTs from https:\/\/issuer\.example\.com, and every other route/);
  });

  it('anonymous only: no JWT, no keys', () => {
    const stack = newStack();
    const wsNotify = new WsNotify(stack, 'WsNotify', { apiKeys: false, allowAnonymous: true });
    expect(authorizeOf(Template.fromStack(stack)).environment).toMatchObject({ ACCEPT_API_KEYS: 'false', ALLOW_ANONYMOUS: 'true' });
    expect(apig4Reason(wsNotify)).toMatch(/admits anonymous clients/);
  });

  it.each([
    ['a jwtIssuer without jwtAudience', { jwtIssuer: props.jwtIssuer }, 'WsNotify: set jwtIssuer and jwtAudience together to accept JWTs'],
    ['a jwtAudience without jwtIssuer', { jwtAudience: 'my-app' }, 'WsNotify: set jwtIssuer and jwtAudience together to accept JWTs'],
    ['a jwksUri without jwtIssuer', { jwksUri: 'https://keys.example.com/jwks.json' }, 'WsNotify: jwksUri is where the JWT issuer publishes its keys'],
    ['no mode at all', { apiKeys: false }, 'WsNotify: no client could connect. Accept JWTs (jwtIssuer and jwtAudience), API keys (apiKeys, on unless set to false), or anonymous clients (allowAnonymous: true).'],
  ])('refuse %s, saying what to set', (_, modeProps, message) => {
    expect(() => new WsNotify(newStack(), 'WsNotify', modeProps)).toThrow(message);
  });
});

describe('IAM', () => {
  it.each([
    // PutItem twice: its row, and the subscriptions asked for at connect.
    ['ConnectFunction', ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ['DisconnectFunction', ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:UpdateItem']],
    ['NotifyUserFunction', ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Query', 'dynamodb:Query', 'dynamodb:UpdateItem', 'execute-api:ManageConnections', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage']],
    ['NotifyConnectionFunction', ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'execute-api:ManageConnections', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage']],
    ['AuthenticateFunction', ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'execute-api:ManageConnections']],
    ['AuthorizeFunction', ['dynamodb:GetItem']],
    ['CredentialSweepFunction', ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:UpdateItem', 'execute-api:ManageConnections']],
    ['SubscribeFunction', ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'execute-api:ManageConnections']],
    ['ResumeFunction', ['dynamodb:GetItem', 'dynamodb:GetItem', 'dynamodb:Query', 'execute-api:ManageConnections']],
    ['HistoryFunction', ['dynamodb:GetItem', 'dynamodb:Query']],
    ['UnsubscribeFunction', ['dynamodb:DeleteItem', 'dynamodb:UpdateItem']],
    ['PublishFunction', ['dynamodb:GetItem', 'sqs:SendMessage']],
    ['EventsAuthorizerFunction', ['dynamodb:GetItem']],
    ['EventsIngressFunction', ['sqs:SendMessage']],
    // It consumes two queues: the Publish queue and its own page queue.
    ['TopicFanOutFunction', ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Query', ...['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'].flatMap((action) => [action, action]), 'sqs:SendMessage']],
  ])('%s may take exactly the actions its code uses', (fn, actions) => {
    expect(permissionsOf(fn).actions).toEqual(actions);
  });

  it('lets the fan-out query only the byUser index, never the table', () => {
    expect(permissionsOf('NotifyUserFunction').resources).toContainEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.any(String), 'Arn'] }, '/index/byUser']],
    });
  });

  it.each(['NotifyUserFunction', 'NotifyConnectionFunction', 'ResumeFunction', 'SubscribeFunction'])("scopes %s's ManageConnections to POST on this API's stage @connections", (fn) => {
    const join = JSON.stringify(permissionsOf(fn).resources);
    expect(join).toMatch(/execute-api/);
    expect(join).toMatch(/\/live\/POST\/@connections\/\*/);
    expect(join).not.toMatch(/DELETE/);
  });

  it.each(['SubscribeFunction', 'UnsubscribeFunction'])("lets %s update the connection table's rows (their topic sets) and write subscriptions, nothing else", (fn) => {
    const statements = ofType('AWS::IAM::Policy')
      .filter(([, policy]) => policy.Properties['Roles'].some((role: any) => role.Ref === resources[functionLogicalId(fn)]!.Properties['Role']['Fn::GetAtt'][0]))
      .flatMap(([, policy]) => policy.Properties['PolicyDocument'].Statement as any[]);
    const update = statements.filter((statement) => [statement.Action].flat().includes('dynamodb:UpdateItem'));
    expect(update.map((statement) => statement.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^WsNotifyConnections/), 'Arn'] }]);
    const writes = statements.filter((statement) => [statement.Action].flat().includes('dynamodb:DeleteItem'));
    expect(writes.map((statement) => statement.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^WsNotifySubscriptions/), 'Arn'] }]);
  });

  it('lets the authorizer only read keys, by id', () => {
    expect(permissionsOf('AuthorizeFunction').resources).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/ApiKeys/), 'Arn'] }]);
  });

  it('lets the credential sweep query only its three indexes, and post and delete only on this stage', () => {
    const { resources: sweepResources } = permissionsOf('CredentialSweepFunction');
    for (const index of ['byCredentialExpiry', 'byApiKey', 'byRevocation']) {
      expect(sweepResources).toContainEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.any(String), 'Arn'] }, `/index/${index}`]] });
    }
    const join = JSON.stringify(sweepResources);
    expect(join).toMatch(/\/live\/POST\/@connections\/\*/);
    expect(join).toMatch(/\/live\/DELETE\/@connections\/\*/);
  });

  it('has no wildcard action and no dynamodb:Scan anywhere', () => {
    const actions = ofType('AWS::IAM::Policy').flatMap(([, policy]) =>
      (policy.Properties['PolicyDocument'].Statement as any[]).flatMap((s) => [s.Action].flat()),
    );
    expect(actions.filter((action: string) => action.includes('*'))).toEqual([]);
    expect(actions).not.toContain('dynamodb:Scan');
  });
});

describe('stack outputs', () => {
  it('are named exactly as documented', () => {
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(
      [
        'AcksTableName',
        'ApiKeysTableName',
        'ConnectionsTableName',
        'EventsUrl',
        'ManagementApiEndpoint',
        'NotifyConnectionDeadLetterQueueUrl',
        'NotifyConnectionQueueUrl',
        'NotifyUserDeadLetterQueueUrl',
        'NotifyUserQueueUrl',
        'PublishDeadLetterQueueUrl',
        'PublishQueueUrl',
        'StreamsTableName',
        'SubscriptionsTableName',
        'WebSocketUrl',
      ],
    );
  });

  it.each([
    ['NotifyUserDeadLetterQueueUrl', 'NotifyUserQueueUrl'],
    ['NotifyConnectionDeadLetterQueueUrl', 'NotifyConnectionQueueUrl'],
    ['PublishDeadLetterQueueUrl', 'PublishQueueUrl'],
  ])('name as %s the dead-letter queue of the queue %s names (what ws-notify dlq reads)', (deadLetterOutput, queueOutput) => {
    const outputs = template.toJSON().Outputs;
    const queueId = outputs[queueOutput].Value.Ref as string;
    const deadLetterId = outputs[deadLetterOutput].Value.Ref as string;

    expect(resources[queueId]?.Properties['RedrivePolicy'].deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [deadLetterId, 'Arn'] });
    expect(resources[deadLetterId]?.Type).toBe('AWS::SQS::Queue');
  });

  it('name the tenant claim of a multi-tenant stack (TenantClaim), which the CLI reads', () => {
    const multiTenant = Template.fromStack(
      new WsNotifyStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'MultiTenant', { ...props, tenantClaim: 'org', env }),
    );

    multiTenant.hasOutput('TenantClaim', { Value: 'org' });
  });
});

describe('server keepalives (prop keepalive)', () => {
  let keepaliveResources: typeof resources;
  let keepaliveTemplate: Template;
  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new WsNotifyStack(app, 'WsNotify', { ...props, keepalive: 'requested', env });
    keepaliveTemplate = Template.fromStack(stack);
    keepaliveResources = keepaliveTemplate.toJSON().Resources;
  }, 120_000);
  const idOf = (of: typeof resources, prefix: string) => Object.keys(of).find((id) => id.startsWith(prefix) && of[id]!.Type === 'AWS::Lambda::Function')!;

  it('adds nothing where it is off (the default): no function, no schedule, no index, and $connect refuses ?keepalive=1', () => {
    expect(Object.keys(resources).filter((id) => id.includes('Keepalive'))).toEqual([]);
    expect(ofType('AWS::Events::Rule')).toHaveLength(1);
    const [, table] = ofType('AWS::DynamoDB::Table').find(([id]) => id.startsWith('WsNotifyConnections'))!;
    expect(table.Properties['GlobalSecondaryIndexes'].map((index: any) => index.IndexName)).toEqual(['byUser', 'byCredentialExpiry', 'byApiKey']);
    expect(resources[functionLogicalId('ConnectFunction')]?.Properties['Environment']['Variables']).toMatchObject({ KEEPALIVE: 'off' });
  });

  it("adds a sparse byKeepaliveSlot index to the connection table, keeping the table's logical id and its other indexes", () => {
    const connectionsId = ofType('AWS::DynamoDB::Table').find(([id]) => id.startsWith('WsNotifyConnections'))![0];
    const table = keepaliveResources[connectionsId]!;
    const indexes = table.Properties['GlobalSecondaryIndexes'] as any[];
    const [, defaultTable] = ofType('AWS::DynamoDB::Table').find(([id]) => id === connectionsId)!;
    expect(indexes.slice(0, 3)).toEqual(defaultTable.Properties['GlobalSecondaryIndexes']);
    expect(indexes[3]).toEqual({
      IndexName: 'byKeepaliveSlot',
      KeySchema: [{ AttributeName: 'keepaliveSlot', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['expiresAt'] },
    });
    expect(table.Properties['AttributeDefinitions']).toContainEqual({ AttributeName: 'keepaliveSlot', AttributeType: 'S' });
    expect(keepaliveResources[idOf(keepaliveResources, 'WsNotifyConnectFunction')]?.Properties['Environment']['Variables']).toMatchObject({ KEEPALIVE: 'requested' });
  });

  it('runs the keepalive function every minute, done within the minute', () => {
    const keepaliveId = idOf(keepaliveResources, 'WsNotifyKeepaliveFunction');
    keepaliveTemplate.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [keepaliveId, 'Arn'] } })],
    });
    expect(keepaliveResources[keepaliveId]?.Properties['Timeout']).toBe(55);
  });

  it('lets it query only the keepalive index (and a gone connection\'s subscriptions), remove a gone connection, and only POST on this stage', () => {
    const roleId = keepaliveResources[idOf(keepaliveResources, 'WsNotifyKeepaliveFunction')]!.Properties['Role']['Fn::GetAtt'][0];
    const statements = Object.values(keepaliveResources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy' && resource.Properties['Roles'].some((role: any) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties['PolicyDocument'].Statement as any[]);
    expect(statements.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'execute-api:ManageConnections',
    ]);
    const queried = statements.filter((statement) => statement.Action === 'dynamodb:Query').flatMap((statement) => [statement.Resource].flat());
    expect(queried).toEqual(
      expect.arrayContaining([
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^WsNotifyConnections/), 'Arn'] }, '/index/byKeepaliveSlot']] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^WsNotifySubscriptions/), 'Arn'] }, '/index/byConnection']] },
      ]),
    );
    const manage = JSON.stringify(statements.filter((statement) => statement.Action === 'execute-api:ManageConnections'));
    expect(manage).toMatch(/\/live\/POST\/@connections\/\*/);
    expect(manage).not.toMatch(/DELETE/);
  });

  it('passes cdk-nag with nothing unacknowledged', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new WsNotifyStack(app, 'NaggedKeepalive', { ...props, keepalive: 'all' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    expect(() => app.synth()).not.toThrow();
  });

  it('refuses a keepalive setting it does not know, naming the ones it does', () => {
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, keepalive: true as never })).toThrow(
      "WsNotify: keepalive must be 'off', 'requested' (connections that ask) or 'all', not true.",
    );
  });
});

describe('cdk-nag AwsSolutions checks', () => {
  it('find nothing that is not acknowledged with a reason', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new WsNotifyStack(app, 'Nagged', props);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    expect(() => app.synth()).not.toThrow();
  });

  it('do run: an unencrypted queue added beside the construct fails synthesis', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new WsNotifyStack(app, 'NaggedBad', props);
    new Queue(stack, 'Plain', { enforceSSL: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    expect(() => app.synth()).toThrow(/AwsSolutions-SQS/);
  });
});

describe('configuration', () => {
  const appWithContext = (context: Record<string, string>) => new App({ context });

  it('reads jwtIssuer, jwtAudience and jwksUri from context', () => {
    const app = appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', jwksUri: 'https://keys.example.com/jwks' });

    expect(wsNotifyPropsFromContext(app.node)).toEqual({
      jwtIssuer: 'https://id.example.com',
      jwtAudience: 'a',
      jwksUri: 'https://keys.example.com/jwks',
    });
  });

  it('reads allowAnonymous (true or false) and tenantClaim from context', () => {
    const app = appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', allowAnonymous: 'true', tenantClaim: 'org' });
    expect(wsNotifyPropsFromContext(app.node)).toMatchObject({ allowAnonymous: true, tenantClaim: 'org' });

    const invalid = appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', allowAnonymous: 'yes' });
    expect(() => wsNotifyPropsFromContext(invalid.node)).toThrow('Context "allowAnonymous" must be true or false (got "yes").');
  });

  it('reads keepalive from context', () => {
    expect(wsNotifyPropsFromContext(appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', keepalive: 'requested' }).node)).toMatchObject({ keepalive: 'requested' });
  });

  it('reads maxSubscriptionsPerConnection as a number from context', () => {
    const app = appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', maxSubscriptionsPerConnection: '250' });
    expect(wsNotifyPropsFromContext(app.node)).toMatchObject({ maxSubscriptionsPerConnection: 250 });

    const invalid = appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', maxSubscriptionsPerConnection: 'many' });
    expect(() => wsNotifyPropsFromContext(invalid.node)).toThrow('Context "maxSubscriptionsPerConnection" must be a number (got "many").');
  });

  it('reads no JWT settings where none are given, and apiKeys, configureApiGatewayAccountLogging and the consumer concurrencies', () => {
    const app = appWithContext({
      apiKeys: 'false',
      allowAnonymous: 'true',
      configureApiGatewayAccountLogging: 'false',
      notifyUserConcurrency: '5',
      notifyConnectionConcurrency: '60',
      publishConcurrency: '3',
    });
    expect(wsNotifyPropsFromContext(app.node)).toEqual({
      apiKeys: false,
      allowAnonymous: true,
      configureApiGatewayAccountLogging: false,
      notifyUserConcurrency: 5,
      notifyConnectionConcurrency: 60,
      publishConcurrency: 3,
    });
  });

  it('reads history (true or false), historyTtl in seconds, historyMaxEntries and replayLimit from context', () => {
    const props = wsNotifyPropsFromContext(appWithContext({ history: 'true', historyTtl: '3600', historyMaxEntries: '200', replayLimit: '300' }).node);

    expect(props).toMatchObject({ history: true, historyMaxEntries: 200, replayLimit: 300 });
    expect(props.historyTtl?.toSeconds()).toBe(3600);
    expect(wsNotifyPropsFromContext(appWithContext({ history: 'false' }).node)).toEqual({ history: false });
    expect(wsNotifyPropsFromContext(appWithContext({ ackTimeout: '120' }).node).ackTimeout?.toSeconds()).toBe(120);
    expect(() => wsNotifyPropsFromContext(appWithContext({ historyTtl: 'a day' }).node)).toThrow(/Context "historyTtl" must be a number/);
  });

  it('reads eventsIamPrincipals from context as a comma-separated list', () => {
    const app = appWithContext({ jwtIssuer: 'https://id.example.com', jwtAudience: 'a', eventsIamPrincipals: 'arn:aws:iam::1:user/ci, arn:aws:sts::1:assumed-role/p/*' });
    expect(wsNotifyPropsFromContext(app.node)).toMatchObject({ eventsIamPrincipals: ['arn:aws:iam::1:user/ci', 'arn:aws:sts::1:assumed-role/p/*'] });
  });

  it.each([
    ['not a URL', 'issuer', /must be the https URL/],
    ['plain http to a remote host', 'http://issuer.example.com', /must use https/],
  ])('refuses a jwtIssuer that is %s', (_, jwtIssuer, message) => {
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, jwtIssuer })).toThrow(message);
  });

  it('refuses a jwksUri over plain http to another host: whoever is on the path could serve their own key', () => {
    expect(() => new WsNotify(newStack(), 'WsNotify', { ...props, jwksUri: 'http://keys.example.com/jwks.json' })).toThrow(
      'WsNotify: jwksUri must use https (http is accepted only for localhost); got http://keys.example.com/jwks.json.',
    );
  });
});
