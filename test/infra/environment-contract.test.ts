import { readdirSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function, Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { addEnvironment, newHandlerFunction } from '../../lib/builders';
import { WsNotify, type WsNotifyProps } from '../../lib/ws-notify';
import { environmentProblems, FUNCTION_ENVIRONMENTS, type FunctionEnvironment, type FunctionName, POWERTOOLS_VARIABLES } from '../../lambdas/contract/environment';

/** As `cdk deploy` synthesizes: a concrete account and region. Bundling is skipped: these tests read the template. */
const env = { account: '123456789012', region: 'eu-west-1' };

/** Each function's environment variables, by its handler, as the synthesized template sets them. */
function environments(id: string, props: (stack: Stack) => WsNotifyProps): Map<string, string[]> {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id, { env });
  const configured = props(stack);
  const wsNotify = new WsNotify(stack, 'WsNotify', configured);
  const resources = Template.fromStack(stack).toJSON()['Resources'] as Record<string, { Properties: { Environment?: { Variables?: object } } }>;
  const enriching = configured.enrichers !== undefined;
  return new Map(
    Object.entries(wsNotify.functions).map(([functionId, fn]) => {
      const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnResource);
      const variables = Object.keys(resources[logicalId]?.Properties.Environment?.Variables ?? {});
      return [handlerOf(functionId, enriching), variables.filter((name) => !(POWERTOOLS_VARIABLES as readonly string[]).includes(name))];
    }),
  );
}

/** The construct's id of a function names its handler: `NotifyUser` → `notify-user`. */
function handlerOf(functionId: string, enriching: boolean): string {
  const name = functionId.replace(/(?<!^)([A-Z])/g, '-$1').toLowerCase();
  return name === 'topic-fan-out' && enriching ? 'enriching-topic-fan-out' : name;
}

const jwt = { jwtIssuer: 'https://issuer.example.com', jwtAudience: 'my-app' };
const VARIANTS: [string, (stack: Stack) => WsNotifyProps][] = [
  ['Default', () => jwt],
  [
    'EveryFeature',
    (stack) => ({
      ...jwt,
      tenantClaim: 'org',
      publicTopics: ['news'],
      publicGroups: ['news#readers'],
      keepalive: 'requested',
      ackTimeout: Duration.minutes(2),
      eventsIamPrincipals: ['arn:aws:iam::123456789012:role/publisher'],
      enrichers: {
        'orders.*': new Function(stack, 'Enrich', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async (e) => e') }),
      },
    }),
  ],
  ['Minimal', () => ({ allowAnonymous: true, apiKeys: false, history: false })],
];

describe('the environment contract (lambdas/contract/environment.ts)', () => {
  /** Every variable set on some function of some variant. */
  const everySet = new Set<string>();

  it('declares the environment of every handler, and of nothing else', () => {
    const handlers = readdirSync(path.join(__dirname, '..', '..', 'lambdas', 'handlers'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.replace(/\.ts$/, ''));
    expect(Object.keys(FUNCTION_ENVIRONMENTS).sort()).toEqual(handlers.sort());
  });

  describe.each(VARIANTS)('the %s stack', (id, props) => {
    let synthesized: Map<string, string[]>;
    beforeAll(() => {
      synthesized = environments(id, props);
      for (const variables of synthesized.values()) for (const name of variables) everySet.add(name);
    }, 120_000);

    it('gives each function every variable its contract requires, and none its contract does not name', () => {
      const problems = [...synthesized].flatMap(([handler, variables]) =>
        handler in FUNCTION_ENVIRONMENTS
          ? environmentProblems(handler as FunctionName, Object.fromEntries(variables.map((name) => [name, 'set'])))
          : [`${handler}: no contract`],
      );
      expect(problems).toEqual([]);
    });
  });

  it('has every variable the construct sets read by some function', () => {
    expect(everySet.size).toBeGreaterThan(0);
    const everyRead = new Set(Object.values(FUNCTION_ENVIRONMENTS).flatMap((contract: FunctionEnvironment) => [...contract.required, ...contract.optional]));
    expect([...everySet].filter((name) => !everyRead.has(name as never))).toEqual([]);
  });
});

describe("a part's function whose grants leave out a variable its contract requires", () => {
  it('fails the synth, naming the function and the variable', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Ungranted', { env });
    // Created as every part creates its functions, and given none of its grants.
    newHandlerFunction(stack, 'NotifyConnection', { handler: 'notify-connection', logRetention: RetentionDays.ONE_DAY });

    expect(() => Template.fromStack(stack)).toThrow(/the notify-connection function needs CONNECTIONS_TABLE_NAME/);
  });

  it('fails the synth on a variable the contract does not name, and passes a function given what it needs', () => {
    const newStack = (id: string) => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id, { env });
    const given = newStack('GivenTooMuch');
    addEnvironment(newHandlerFunction(given, 'Ping', { handler: 'ping', logRetention: RetentionDays.ONE_DAY }), { DEAD_LETTER_QUEUE_URL: 'https://sqs.example/dlq' });
    const exact = newStack('GivenWhatItNeeds');
    newHandlerFunction(exact, 'Ping', { handler: 'ping', logRetention: RetentionDays.ONE_DAY });

    expect(() => Template.fromStack(given)).toThrow(/the ping function's environment contract \(lambdas\/contract\/environment.ts\) does not name DEAD_LETTER_QUEUE_URL/);
    expect(() => Template.fromStack(exact)).not.toThrow();
  });
});
