import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App, Duration } from 'aws-cdk-lib';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Code, Function as LambdaFunctionConstruct, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describeLocalApp, type LocalApp } from '../../local/cloudformation/app-model';
import { LocalFunction } from '../../local/lambda/functions';
import { readSynthesizedStack } from '../../local/cloudformation/cloud-assembly';
import { type Engine, startDynamoDbLocal, startSqsEmulator } from '../../local/engines/engine-processes';
import { provision } from '../../local/cloudformation/provision';
import { WsNotifyStack } from '../../lib/ws-notify-stack';

const GATEWAY = new URL('http://127.0.0.1:3001');
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const engines: Engine[] = [];
let outdir: string;
let dynamoDb: DynamoDBClient;
let sqs: SQSClient;
let app: LocalApp;

/** The ws-notify stack plus what a user might add in lib/: a route, and a queue with its consumer. */
function synthesizeExtendedApp(): string {
  const cdkApp = new App({ outdir });
  const stack = new WsNotifyStack(cdkApp, 'Extended', { jwtIssuer: 'http://127.0.0.1:3001/issuer', jwtAudience: 'local' });
  const jobs = new Queue(stack, 'Jobs', { visibilityTimeout: Duration.seconds(45) });
  const entry = path.join(__dirname, '..', '..', 'lambdas', 'handlers', 'ping.ts');
  const echo = new NodejsFunction(stack, 'Echo', { entry, runtime: Runtime.NODEJS_22_X, environment: { JOBS_QUEUE_URL: jobs.queueUrl } });
  stack.wsNotify.webSocketApi.addRoute('echo', { integration: new WebSocketLambdaIntegration('EchoIntegration', echo), returnResponse: true });
  const worker = new NodejsFunction(stack, 'Worker', { entry, runtime: Runtime.NODEJS_22_X, timeout: Duration.seconds(20) });
  worker.addEventSource(new SqsEventSource(jobs, { batchSize: 5, maxBatchingWindow: Duration.seconds(2) }));
  new Rule(stack, 'Housekeeping', { schedule: Schedule.rate(Duration.minutes(5)), targets: [new LambdaFunction(worker)] });
  // Inline code as CDK users write it, callback style as Lambda's Node.js runtimes up to 22 allow.
  new LambdaFunctionConstruct(stack, 'Inline', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = (event, context, callback) => callback(null, { next: event.n + 1, queue: process.env.JOBS_QUEUE_URL });'),
    environment: { JOBS_QUEUE_URL: jobs.queueUrl },
  });
  new Rule(stack, 'Nightly', { schedule: Schedule.cron({ hour: '3', minute: '0' }), targets: [new LambdaFunction(worker)] });
  // A function of a runtime the local runtime does not run: the app still runs, without it.
  new LambdaFunctionConstruct(stack, 'Report', { runtime: Runtime.PYTHON_3_12, handler: 'index.handler', code: Code.fromInline('def handler(event, context):\n  return 1\n') });
  return cdkApp.synth().directory;
}

beforeAll(async () => {
  outdir = mkdtempSync(path.join(tmpdir(), 'ws-notify-assembly-'));
  const assemblyDir = synthesizeExtendedApp();
  const [dynamo, sqsEngine] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
  engines.push(dynamo, sqsEngine);
  dynamoDb = new DynamoDBClient({ region: 'us-east-1', credentials, endpoint: dynamo.endpoint });
  sqs = new SQSClient({ region: 'us-east-1', credentials, endpoint: sqsEngine.endpoint, useQueueUrlAsEndpoint: false });
  const stack = readSynthesizedStack(assemblyDir, 'Extended');
  app = describeLocalApp(stack, await provision(stack, { dynamoDb, sqs }), GATEWAY);
}, 180_000);

afterAll(async () => {
  dynamoDb?.destroy();
  sqs?.destroy();
  await Promise.all(engines.map((engine) => engine.stop()));
  rmSync(outdir, { recursive: true, force: true });
});

const functionNamed = (logicalIdPart: string) => [...app.functions.values()].find((fn) => fn.logicalId.includes(logicalIdPart))!;

describe('the local model of a synthesized app', () => {
  it('serves a route added in lib/, with its route response, through the same bundle that deploys', () => {
    const echo = app.webSocketApi.routes.get('echo');

    expect(echo).toEqual({ routeKey: 'echo', functionName: functionNamed('Echo').name, hasRouteResponse: true });
    expect(functionNamed('Echo').codeDir).toMatch(/asset\.[0-9a-f]{64}$/);
  });

  it('keeps the core routes, $connect behind its REQUEST authorizer', () => {
    expect([...app.webSocketApi.routes.keys()].sort()).toEqual(['$connect', '$default', '$disconnect', 'ack', 'authenticate', 'echo', 'history', 'ping', 'publish', 'resume', 'subscribe', 'unsubscribe']);
    expect(app.webSocketApi.routes.get('$connect')?.authorizer).toEqual({ functionName: functionNamed('Authorize').name, identitySources: [] });
    expect(app.webSocketApi).toMatchObject({ stageName: 'live', routeSelectionExpression: '$request.body.action' });
  });

  it('polls a queue added in lib/ with its mapping settings', () => {
    const jobs = app.eventSourceMappings.find((mapping) => mapping.functionName === functionNamed('Worker').name);

    expect(jobs).toMatchObject({ batchSize: 5, batchingWindowSeconds: 2, reportBatchItemFailures: false, queueUrl: expect.stringContaining('Jobs') });
    expect(functionNamed('Worker').timeoutSeconds).toBe(20);
  });

  it('runs a rate() rule added in lib/ on its schedule, and names a cron() rule it will not run', () => {
    expect(app.scheduledRules.filter((rule) => rule.logicalId.includes('Housekeeping'))).toEqual([
      {
        logicalId: expect.stringContaining('Housekeeping'),
        ruleArn: expect.stringMatching(/^arn:aws:events:us-east-1:000000000000:rule\//),
        intervalSeconds: 300,
        targets: [{ functionName: functionNamed('Worker').name }],
      },
    ]);
    expect(app.scheduledRules.find((rule) => rule.logicalId.includes('CredentialSweep'))).toMatchObject({
      intervalSeconds: 60,
      targets: [{ functionName: functionNamed('CredentialSweep').name }],
    });
    expect(app.notRunLocally).toContainEqual(expect.stringMatching(/^rule Nightly.*cron\(0 3 \* \* \? \*\) \(only rate\(\) schedules run locally\)$/));
  });

  it("reads each function's runtime, and names a function whose runtime it cannot run", () => {
    expect(functionNamed('Echo').runtime).toBe('nodejs22.x');
    expect(functionNamed('Report').runtime).toBe('python3.12');
    expect(app.notRunLocally.filter((notice) => notice.startsWith('function '))).toEqual([
      expect.stringMatching(/^function Report\w*: runtime python3\.12 is not run locally: .*Node\.js functions.* \(its invocations fail\)$/),
    ]);
  });

  it('runs inline code (Code.fromInline, the template\'s ZipFile) as index.js, with its environment', async () => {
    const inline = new LocalFunction(functionNamed('Inline'), { baseEnvironment: { AWS_REGION: 'us-east-1' }, maxInstances: 1, log: () => undefined });
    try {
      await expect(inline.invoke({ n: 41 })).resolves.toEqual({ next: 42, queue: functionNamed('Echo').environment['JOBS_QUEUE_URL'] });
    } finally {
      await inline.stop();
    }
    expect(functionNamed('Inline').handler).toBe('index.handler');
  });

  it("resolves environments to local resources, and the API's AWS endpoints to the local gateway", () => {
    expect(functionNamed('Echo').environment['JOBS_QUEUE_URL']).toBe(app.eventSourceMappings.find((m) => m.queueUrl.includes('Jobs'))?.queueUrl);
    expect(functionNamed('NotifyConnection').environment['MANAGEMENT_API_ENDPOINT']).toBe('http://127.0.0.1:3001/live');
    expect(app.outputs['WebSocketUrl']).toBe('ws://127.0.0.1:3001/live');
    expect(app.outputs['ConnectionsTableName']).toBe(functionNamed('Connect').environment['CONNECTIONS_TABLE_NAME']);
  });

  it('creates the table with its keys, GSI and TTL as the template defines them', async () => {
    const tableName = app.outputs['ConnectionsTableName'];
    const { Table } = await dynamoDb.send(new DescribeTableCommand({ TableName: tableName }));
    const { TimeToLiveDescription } = await dynamoDb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));

    expect(Table?.KeySchema).toEqual([{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
    expect(Table?.GlobalSecondaryIndexes?.find((index) => index.IndexName === 'byUser')).toMatchObject({
      IndexName: 'byUser',
      KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['expiresAt', 'tenant'] },
    });
    expect(Table?.GlobalSecondaryIndexes?.find((index) => index.IndexName === 'byCredentialExpiry')).toMatchObject({
      KeySchema: [
        { AttributeName: 'expiryBucket', KeyType: 'HASH' },
        { AttributeName: 'credentialExpiresAt', KeyType: 'RANGE' },
      ],
    });
    expect(TimeToLiveDescription).toMatchObject({ AttributeName: 'expiresAt', TimeToLiveStatus: 'ENABLED' });
  });

  it('creates the queues with their visibility timeouts and redrive policies', async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: app.outputs['NotifyUserQueueUrl'], AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }),
    );

    expect(Attributes?.VisibilityTimeout).toBe('180');
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: expect.stringContaining('NotifyUserDeadLetterQueue'),
      maxReceiveCount: 5,
    });
  });
});
