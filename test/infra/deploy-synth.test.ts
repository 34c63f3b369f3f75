import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../bin/app';
import { buildApp as buildOrderEnrichmentApp } from '../../examples/order-enrichment/bin/app';
import { wsNotifyPropsFromContext } from '../../lib/app-context';
import { WsNotifyStack } from '../../lib/ws-notify-stack';
import { ACCOUNT, DEPLOY_VARIANTS, type DeployVariant, dispose, JWT, newApp as newAppIn, ORDER_ENRICHMENT } from './deploy-variants';
import { breakingChanges, type LogicalIds, logicalIdsOf, unrecordedOf } from './logical-ids';
import { readFixture, RECORDED_REGION } from './record-logical-ids';

// Every documented way to deploy, synthesized as `cdk deploy` synthesizes it: through bin/app.ts,
// with the account and region the CDK CLI hands the app, and cdk-nag's checks on.

const REGIONS = ['eu-west-1', 'ap-southeast-2'];

const outdirs: string[] = [];
afterAll(() => dispose(outdirs));

/** A fresh app as the CLI starts it: context as `-c` passes it (strings), bundling skipped to keep the tests fast. */
const newApp = (context: Record<string, string>): App => newAppIn(context, outdirs);

const recordedLogicalIds = readFixture();

/**
 * The template updates a stack deployed from the recorded one in place: no logical ID gone or
 * retyped, no index changed, at most one new index per table, and every new resource recorded.
 */
function expectToUpdateInPlace(variant: string, template: Template): void {
  const recorded: LogicalIds | undefined = recordedLogicalIds[variant];
  const synthesized = logicalIdsOf(template);
  expect({ variant, breaking: recorded ? breakingChanges(recorded, synthesized) : ['not recorded'] }).toEqual({ variant, breaking: [] });
  const unrecorded = unrecordedOf(recorded!, synthesized);
  expect({ variant, unrecorded, fix: 'npm run record:logical-ids' }).toEqual({ variant, unrecorded: [], fix: 'npm run record:logical-ids' });
}

/** Synthesizes the app; cdk-nag's errors, one line each, from the validation report synth writes when it fails. */
function nagErrorsOf(app: App): string[] {
  try {
    app.synth();
    return [];
  } catch (error) {
    const report = path.join(app.outdir, 'validation-report.json');
    if (!existsSync(report)) throw error;
    const { pluginReports } = JSON.parse(readFileSync(report, 'utf8')) as {
      pluginReports: { violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
    };
    return pluginReports.flatMap(({ violations }) =>
      violations
        .filter((violation) => violation.severity === 'error')
        .flatMap((violation) => violation.violatingConstructs.map(({ constructPath }) => `${violation.ruleName} at ${constructPath}`)),
    );
  }
}

function environmentOf(template: Template, functionId: string): Record<string, unknown> {
  const [, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.includes(`${functionId}Function`))!;
  return fn['Properties']['Environment']['Variables'];
}

const ASSERTIONS: [DeployVariant, (template: Template) => void][] = [
  ['default (JWT)', (template) => expect(environmentOf(template, 'Authorize')).toMatchObject({ JWT_ISSUER: JWT.jwtIssuer, ACCEPT_API_KEYS: 'true' })],
  ['tenants', (template) => expect(environmentOf(template, 'Authorize')).toMatchObject({ TENANT_CLAIM: 'org' })],
  ['anonymous', (template) => expect(environmentOf(template, 'Authorize')).toMatchObject({ ALLOW_ANONYMOUS: 'true' })],
  ['public topics', (template) => expect(environmentOf(template, 'Subscribe')).toMatchObject({ PUBLIC_TOPICS: '["news","status.*"]' })],
  ['public groups', (template) => expect(environmentOf(template, 'Subscribe')).toMatchObject({ PUBLIC_GROUPS: '["lobby#viewers","status.*"]' })],
  ['maxSubscriptionsPerConnection', (template) =>
    expect(environmentOf(template, 'Subscribe')).toMatchObject({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '250' })],
  ['connection limits', (template) =>
    expect(environmentOf(template, 'Connect')).toMatchObject({ MAX_CONNECTIONS_PER_USER: '10', MAX_CONNECTIONS_PER_API_KEY: '100' })],
  ['key-only (no JWT)', (template) => {
    expect(environmentOf(template, 'Authorize')).toMatchObject({ ACCEPT_API_KEYS: 'true', ALLOW_ANONYMOUS: 'false' });
    expect(environmentOf(template, 'Authorize')).not.toHaveProperty('JWT_ISSUER');
  }],
  ['anonymous-only', (template) =>
    expect(environmentOf(template, 'Authorize')).toMatchObject({ ACCEPT_API_KEYS: 'false', ALLOW_ANONYMOUS: 'true' })],
  ['JWT without API keys', (template) =>
    expect(environmentOf(template, 'Authorize')).toMatchObject({ JWT_ISSUER: JWT.jwtIssuer, ACCEPT_API_KEYS: 'false' })],
  ['configureApiGatewayAccountLogging=false', (template) =>
    template.resourceCountIs('AWS::ApiGateway::Account', 0)],
  ['consumer concurrency', (template) => {
    const concurrencies = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map(
      (mapping) => mapping['Properties']['ScalingConfig']['MaximumConcurrency'],
    );
    // publishConcurrency bounds both of the topic fan-out's queues: Publish and its page queue.
    expect(concurrencies.sort((a, b) => a - b)).toEqual([2, 2, 5, 100]);
  }],
  ['keepalive', (template) => {
    expect(environmentOf(template, 'Connect')).toMatchObject({ KEEPALIVE: 'requested' });
    template.resourceCountIs('AWS::Events::Rule', 2);
  }],
  ['history settings', (template) =>
    expect(environmentOf(template, 'NotifyUser')).toMatchObject({ HISTORY_TTL_SECONDS: '600', HISTORY_MAX_ENTRIES: '100', REPLAY_LIMIT: '50' })],
  ['history=false', (template) => {
    expect(environmentOf(template, 'NotifyUser')).not.toHaveProperty('STREAMS_TABLE_NAME');
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table')).filter((id) => id.includes('Streams'))).toEqual([]);
  }],
  ['ackTimeout', (template) => {
    template.hasResourceProperties('AWS::SQS::Queue', { DelaySeconds: 120 });
    expect(environmentOf(template, 'NotifyUser')).toHaveProperty('ACK_CHECK_QUEUE_URL');
    expect(Object.keys(template.toJSON().Outputs)).toContain('UndeliveredQueueUrl');
  }],
  ['stackName', (template) =>
    expect(environmentOf(template, 'Connect')).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'WsNotifyStaging' })],
];

const VARIANTS = ASSERTIONS.map(([name, assertVariant]) => [name, DEPLOY_VARIANTS[name], assertVariant] as const);

describe.each(REGIONS)('bin/app.ts in %s, as `cdk deploy` synthesizes it', (region) => {
  it.each(VARIANTS)('synthesizes %s with no cdk-nag error, in the account and region the CLI gave it, keeping every recorded logical ID', (variant, context, assertVariant) => {
    const app = newApp(context);
    const stack = buildApp(app, { CDK_DEFAULT_ACCOUNT: ACCOUNT, CDK_DEFAULT_REGION: region });

    expect(nagErrorsOf(app)).toEqual([]);
    expect(stack.environment).toBe(`aws://${ACCOUNT}/${region}`);
    const template = Template.fromStack(stack);
    // The statement cdk-nag's IAM5 acknowledgement names, with this account and region in it.
    expect(JSON.stringify(template.toJSON())).toContain(`:execute-api:${region}:${ACCOUNT}:`);
    assertVariant(template);
    if (region === RECORDED_REGION) expectToUpdateInPlace(variant, template);
  });
});

describe('the checks these tests rely on', () => {
  it('see a finding that is not acknowledged in an env-true stack', () => {
    const app = newApp(JWT);
    const stack = buildApp(app, { CDK_DEFAULT_ACCOUNT: ACCOUNT, CDK_DEFAULT_REGION: 'eu-west-1' });
    new Queue(stack, 'Plain', { enforceSSL: false });

    expect(nagErrorsOf(app)).toContain('AwsSolutions-SQS4 at WsNotify/Plain/Resource');
  });

  it.each([
    ['jwtIssuer without jwtAudience', { jwtIssuer: JWT.jwtIssuer }, /set jwtIssuer and jwtAudience together/],
    ['no way to connect', { apiKeys: 'false' }, /no client could connect\. Accept JWTs \(jwtIssuer and jwtAudience\), API keys/],
    ['a concurrency of 1', { ...JWT, publishConcurrency: '1' }, /publishConcurrency must be a whole number from 2 to 1000/],
  ])('refuse %s with a message that says what to set', (_, context, message) => {
    expect(() => buildApp(newApp(context), { CDK_DEFAULT_ACCOUNT: ACCOUNT, CDK_DEFAULT_REGION: 'eu-west-1' })).toThrow(message);
  });
});

describe('two instances in one account and region (production and staging)', () => {
  const app = newApp(JWT);
  const env = { account: ACCOUNT, region: 'eu-west-1' };
  const stacks = ['WsNotifyProduction', 'WsNotifyStaging'].map((id) => new WsNotifyStack(app, id, { ...wsNotifyPropsFromContext(app.node), env }));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  it('synthesize side by side with no cdk-nag error', () => {
    expect(nagErrorsOf(app)).toEqual([]);
  });

  it.each(['AWS::IAM::Role', 'AWS::ApiGateway::Account'])(
    "each keep the account's API Gateway logging setting (%s) when deleted, so the other's logging never names a deleted role",
    (type) => {
      for (const stack of stacks) {
        const template = Template.fromStack(stack);
        const account = Object.values(template.findResources('AWS::ApiGateway::Account'));
        expect(account).toHaveLength(1);
        const roleId = account[0]!['Properties']['CloudWatchRoleArn']['Fn::GetAtt'][0];
        const resource = type === 'AWS::ApiGateway::Account' ? account[0]! : template.toJSON().Resources[roleId];
        expect(resource).toMatchObject({ Type: type, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      }
    },
  );

  it('name none of their roles, tables, queues, functions or log groups, so neither collides with the other', () => {
    const nameProperty: Record<string, string> = {
      'AWS::IAM::Role': 'RoleName',
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::Logs::LogGroup': 'LogGroupName',
    };
    for (const stack of stacks) {
      const resources = Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>);
      const named = resources.filter(({ Type, Properties }) => nameProperty[Type] !== undefined && Properties?.[nameProperty[Type]] !== undefined);
      expect(named).toEqual([]);
      expect(resources.filter(({ Type }) => nameProperty[Type] !== undefined).length).toBeGreaterThan(40);
    }
  });

  it('tag their metrics with their own stack name', () => {
    for (const stack of stacks) {
      expect(environmentOf(Template.fromStack(stack), 'NotifyUser')).toMatchObject({ POWERTOOLS_SERVICE_NAME: stack.stackName });
    }
  });
});

describe('examples/order-enrichment', () => {
  it.each(REGIONS)('synthesizes in %s with its enricher and no cdk-nag error, keeping every recorded logical ID', (region) => {
    const app = newApp(JWT);
    const stack: Stack = buildOrderEnrichmentApp(app, { CDK_DEFAULT_ACCOUNT: ACCOUNT, CDK_DEFAULT_REGION: region });

    expect(nagErrorsOf(app)).toEqual([]);
    expect(stack.environment).toBe(`aws://${ACCOUNT}/${region}`);
    const template = Template.fromStack(stack);
    expect(environmentOf(template, 'TopicFanOut')).toHaveProperty('ENRICHERS');
    if (region === RECORDED_REGION) expectToUpdateInPlace(ORDER_ENRICHMENT, template);
  });
});

describe('the CDK CLI', () => {
  it('synthesizes bin/app.ts in the region of the caller\'s AWS configuration and the account it was given, cdk-nag passing', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'ws-notify-cdk-cli-'));
    outdirs.push(outdir);
    const cli = require.resolve('aws-cdk/bin/cdk');
    // The CLI sets CDK_DEFAULT_REGION itself, from AWS_REGION or the profile (us-east-1 without
    // either); CDK_DEFAULT_ACCOUNT reaches the app as given when no credentials resolve one.
    const result = spawnSync(
      process.execPath,
      [cli, 'synth', '--quiet', '--no-notices', '--output', outdir, '-c', `jwtIssuer=${JWT.jwtIssuer}`, '-c', `jwtAudience=${JWT.jwtAudience}`],
      {
        cwd: path.join(__dirname, '..', '..'),
        encoding: 'utf8',
        timeout: 180_000,
        env: {
          PATH: process.env['PATH'],
          HOME: outdir,
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: path.join(outdir, 'no-config'),
          AWS_SHARED_CREDENTIALS_FILE: path.join(outdir, 'no-credentials'),
          AWS_REGION: 'ap-southeast-2',
          CDK_DEFAULT_ACCOUNT: ACCOUNT,
        },
      },
    );

    expect({ status: result.status, output: result.status === 0 ? '' : `${result.stdout}${result.stderr}` }).toEqual({ status: 0, output: '' });
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { environment?: string }> };
    expect(manifest.artifacts['WsNotify']?.environment).toBe(`aws://${ACCOUNT}/ap-southeast-2`);
    expect(readFileSync(path.join(outdir, 'WsNotify.template.json'), 'utf8')).toContain(`:execute-api:ap-southeast-2:${ACCOUNT}:`);
  }, 180_000);
});
