import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { BillingMode, Table, TableEncryption, type TableProps } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { environmentProblems, type FunctionName, type VariableName } from '../lambdas/contract/environment';
import { METRICS_NAMESPACE } from '../lambdas/contract/metric-names';

// The stack's resources, each with its secure defaults, created in the caller's scope under the id
// it passes (as aws-solutions-constructs' core/lib/sqs-helper.ts builds): the parts call these, so a
// part moves nothing in the template, and every table, queue and function is made one way.

/** Consumers get up to this long per batch; their queues' visibility timeout is 6× this. */
export const CONSUMER_TIMEOUT = Duration.seconds(30);
/** Lambda's SQS event source takes at most 10 records per batch without a batching window. */
const SQS_BATCH_SIZE = 10;
/** AWS's recommendation for Lambda consumers: enough receives to ride out throttling. */
export const MAX_RECEIVE_COUNT = 5;
/** Credentials come from the environment in Lambda: the rest of the SDK's default chain is dead weight in a bundle. */
export const BUNDLING_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(__dirname, '..', 'lambdas', 'wiring', 'credentials-from-environment.ts'),
};

/** Every table: on demand, encrypted, point-in-time recoverable, kept on stack deletion by default. */
export function newTable(
  scope: Construct,
  id: string,
  keys: Pick<TableProps, 'partitionKey' | 'sortKey' | 'timeToLiveAttribute'>,
  removalPolicy: RemovalPolicy,
): Table {
  return new Table(scope, id, {
    ...keys,
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
}

/** Every queue: SQS-managed encryption, SSL only. */
export function newQueue(scope: Construct, id: string, props: QueueProps): Queue {
  return new Queue(scope, id, { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, ...props });
}

/** Dead letters are kept like the tables: they are the messages that still need an operator. */
export function newDeadLetterQueue(scope: Construct, id: string, removalPolicy: RemovalPolicy): Queue {
  return newQueue(scope, id, { retentionPeriod: Duration.days(14), removalPolicy });
}

/** A queue a function consumes: room for 6 consumer timeouts per receive, dead letters after 5. */
export function newConsumedQueue(scope: Construct, id: string, deadLetterQueue: Queue, props: QueueProps = {}): Queue {
  return newQueue(scope, id, {
    visibilityTimeout: Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    ...props,
  });
}

/** `fn` consumes `queue` in batches of 10, reporting each failed record alone. */
export function consume(fn: NodejsFunction, queue: Queue, maxConcurrency?: number): void {
  fn.addEventSource(new SqsEventSource(queue, { batchSize: SQS_BATCH_SIZE, reportBatchItemFailures: true, ...(maxConcurrency !== undefined && { maxConcurrency }) }));
}

/** Variables of a function's environment, by the names its contract (lambdas/contract/environment.ts) declares. */
export type EnvironmentVariables = Partial<Record<VariableName, string>>;

export interface HandlerFunctionProps {
  /** The file in lambdas/handlers/, without `.ts`: it names the function's environment contract too. */
  readonly handler: FunctionName;
  readonly logRetention: RetentionDays;
  /** What the function reads besides what its grants add. @default none */
  readonly environment?: EnvironmentVariables;
  /** @default CONSUMER_TIMEOUT */
  readonly timeout?: Duration;
}

/** What each function was given, for the check against its contract once every grant has added its variables. */
const givenEnvironments = new WeakMap<NodejsFunction, Record<string, string>>();

/**
 * A function of lambdas/handlers/, as `<id>Function` with its log group `<id>Logs`: Node 22 on arm64,
 * JSON logs, bundled with the SDK clients it uses (tree-shaken), named metrics per stack. At synth,
 * its environment (what it was created with and what its grants added) must meet its contract: every
 * required variable set, none the contract does not name.
 */
export function newHandlerFunction(scope: Construct, id: string, props: HandlerFunctionProps): NodejsFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const fn = new NodejsFunction(scope, `${id}Function`, {
    entry: path.join(__dirname, '..', 'lambdas', 'handlers', `${props.handler}.ts`),
    handler: 'handler',
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: 256,
    timeout: props.timeout ?? CONSUMER_TIMEOUT,
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    // The stack's name is the metrics' `service` dimension, so two stacks in one account never mix.
    environment: { POWERTOOLS_SERVICE_NAME: Stack.of(scope).stackName, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, ...props.environment },
    bundling: {
      minify: true,
      keepNames: true,
      target: 'node22',
      // Bundle the SDK v3 clients (not the runtime's copy) so esbuild tree-shakes them to what is used.
      externalModules: [],
      mainFields: ['module', 'main'],
      esbuildArgs: Object.fromEntries(Object.entries(BUNDLING_ALIASES).map(([module, replacement]) => [`--alias:${module}`, replacement])),
    },
  });
  const given: Record<string, string> = { ...props.environment };
  givenEnvironments.set(fn, given);
  fn.node.addValidation({ validate: () => environmentProblems(props.handler, given) });
  return fn;
}

/** Exactly these actions on exactly these resources: the one way a part grants. */
export function allow(fn: NodejsFunction, actions: string[], resources: string[]): void {
  fn.addToRolePolicy(new PolicyStatement({ actions, resources }));
}

/** Environment variables a grant adds with its permissions. */
export function addEnvironment(fn: NodejsFunction, variables: EnvironmentVariables): void {
  const given = givenEnvironments.get(fn);
  for (const [name, value] of Object.entries(variables)) {
    if (value === undefined) continue;
    fn.addEnvironment(name, value);
    if (given) given[name] = value;
  }
}
