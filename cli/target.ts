import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { LocalIssuer } from '../local/dev-endpoints/issuer';
import type { TargetOptions } from './options';

/** The outputs WsNotifyStack declares: what every target has. */
export const STACK_OUTPUT_KEYS = [
  'WebSocketUrl',
  'ManagementApiEndpoint',
  'NotifyUserQueueUrl',
  'NotifyConnectionQueueUrl',
  'ConnectionsTableName',
  'ApiKeysTableName',
  'PublishQueueUrl',
] as const;
/** Outputs a stack deployed before `ws-notify dlq` existed lacks: only that command needs them. */
export const DEAD_LETTER_OUTPUT_KEYS = ['NotifyUserDeadLetterQueueUrl', 'NotifyConnectionDeadLetterQueueUrl', 'PublishDeadLetterQueueUrl'] as const;
export type DeadLetterOutputKey = (typeof DEAD_LETTER_OUTPUT_KEYS)[number];
/** Outputs only a stack with history declares (and one deployed before streams lacks): `history` and `streams` need them. */
export const STREAM_OUTPUT_KEYS = ['StreamsTableName', 'AcksTableName'] as const;
export type StreamOutputKey = (typeof STREAM_OUTPUT_KEYS)[number];
export type StackOutputs = Record<(typeof STACK_OUTPUT_KEYS)[number], string> & Partial<Record<DeadLetterOutputKey | StreamOutputKey, string>>;

/** The output only a multi-tenant stack declares: the JWT claim that names a tenant. */
const TENANT_CLAIM_OUTPUT = 'TenantClaim';

/** What the local runtime adds to its outputs.json: where its engines listen, and their region. */
const LOCAL_OUTPUT_KEYS = ['SqsEndpoint', 'DynamoDbEndpoint', 'Region'] as const;

export interface LocalTarget {
  kind: 'local';
  stackName: string;
  outputs: StackOutputs;
  region: string;
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  /** The directory of the runtime's outputs.json, where its issuer keeps its key. */
  stateDir: string;
  /** Set for a multi-tenant stack (its `TenantClaim` output). */
  tenantClaim?: string;
}

export interface DeployedTarget {
  kind: 'deployed';
  stackName: string;
  outputs: StackOutputs;
  /** The queues' region; where their URLs do not say, the SDK's own choice (AWS_REGION, the profile). */
  region?: string;
  /** Set for a multi-tenant stack (its `TenantClaim` output; a stack deployed before that output existed has none). */
  tenantClaim?: string;
}

export type Target = LocalTarget | DeployedTarget;

/** The stack to act on cannot be found, or its outputs are not ws-notify's. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/** Where `npm start` writes its outputs, relative to the project directory. */
export const DEFAULT_OUTPUTS_FILE = path.join('.local', 'outputs.json');

/** `--outputs` (default the local runtime's), optionally with `--stack`; or `--stack` alone, from CloudFormation. */
export async function resolveTarget(options: TargetOptions, cwd = process.cwd()): Promise<Target> {
  if (options.outputsFile === undefined && options.stackName !== undefined) {
    const outputs = await describeStackOutputs(options.stackName);
    return deployedTarget(options.stackName, outputs, `stack "${options.stackName}"`);
  }
  const file = path.resolve(cwd, options.outputsFile ?? DEFAULT_OUTPUTS_FILE);
  return targetFromOutputsFile(readOutputsFile(file, options.outputsFile === undefined), file, options.stackName);
}

/** The target an outputs file (`{"<StackName>": {"<OutputKey>": "<value>"}}`) names. */
export function targetFromOutputsFile(text: string, file: string, stackName?: string): Target {
  const [chosen, outputs] = chooseStack(parseOutputsFile(text, file), file, stackName);
  if (!('SqsEndpoint' in outputs)) return deployedTarget(chosen, outputs, `stack "${chosen}" in ${file}`);
  const missing = LOCAL_OUTPUT_KEYS.filter((key) => !outputs[key]);
  if (missing.length > 0) {
    throw new TargetError(`stack "${chosen}" in ${file} looks local (it has SqsEndpoint) but lacks ${missing.join(', ')}`);
  }
  return {
    kind: 'local',
    stackName: chosen,
    outputs: stackOutputs(outputs, `stack "${chosen}" in ${file}`),
    region: outputs['Region'] as string,
    sqsEndpoint: outputs['SqsEndpoint'] as string,
    dynamoDbEndpoint: outputs['DynamoDbEndpoint'] as string,
    stateDir: path.dirname(file),
    ...tenancyOf(outputs),
  };
}

/** `sqs.<region>.amazonaws.com` (or the legacy `<region>.queue.amazonaws.com`); undefined for any other host. */
export function regionFromQueueUrl(queueUrl: string): string | undefined {
  let host: string;
  try {
    host = new URL(queueUrl).hostname;
  } catch {
    return undefined;
  }
  const match = /^sqs(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host) ?? /^([a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?$/.exec(host);
  return match?.[1];
}

type OutputsByStack = Record<string, Record<string, string>>;

function parseOutputsFile(text: string, file: string): OutputsByStack {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TargetError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(parsed) || !Object.values(parsed).every(isObject)) {
    throw new TargetError(`${file} is not an outputs file: expected {"<StackName>": {"<OutputKey>": "<value>"}}, as cdk deploy --outputs-file writes`);
  }
  return Object.fromEntries(
    Object.entries(parsed as Record<string, Record<string, unknown>>).map(([stack, outputs]) => [
      stack,
      Object.fromEntries(Object.entries(outputs).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
    ]),
  );
}

/** The named stack, or else the one stack with ws-notify's outputs (a deploy's file can hold other stacks too). */
function chooseStack(stacks: OutputsByStack, file: string, stackName: string | undefined): [string, Record<string, string>] {
  const names = Object.keys(stacks);
  if (stackName !== undefined) {
    const outputs = stacks[stackName];
    if (!outputs) throw new TargetError(`${file} has no stack "${stackName}"; it has ${listOrNone(names)}`);
    return [stackName, outputs];
  }
  const candidates = names.filter((name) => STACK_OUTPUT_KEYS.every((key) => key in (stacks[name] ?? {})));
  if (candidates.length > 1) throw new TargetError(`${file} has several ws-notify stacks (${candidates.join(', ')}): choose one with --stack`);
  const [only] = candidates;
  if (only === undefined) {
    throw new TargetError(`no stack in ${file} has the outputs of a ws-notify stack (${STACK_OUTPUT_KEYS.join(', ')}); it has ${listOrNone(names)}`);
  }
  return [only, stacks[only] as Record<string, string>];
}

function deployedTarget(stackName: string, outputs: Record<string, string>, source: string): DeployedTarget {
  const checked = stackOutputs(outputs, source);
  const region = regionFromQueueUrl(checked.NotifyUserQueueUrl);
  return { kind: 'deployed', stackName, outputs: checked, ...(region && { region }), ...tenancyOf(outputs) };
}

function tenancyOf(outputs: Record<string, string>): { tenantClaim?: string } {
  const tenantClaim = outputs[TENANT_CLAIM_OUTPUT];
  return tenantClaim ? { tenantClaim } : {};
}

function stackOutputs(outputs: Record<string, string>, source: string): StackOutputs {
  const missing = STACK_OUTPUT_KEYS.filter((key) => !outputs[key]);
  if (missing.length > 0) throw new TargetError(`${source} lacks the output(s) ${missing.join(', ')} that a ws-notify stack declares`);
  const optional = [...DEAD_LETTER_OUTPUT_KEYS, ...STREAM_OUTPUT_KEYS].filter((key) => outputs[key]);
  return Object.fromEntries([...STACK_OUTPUT_KEYS, ...optional].map((key) => [key, outputs[key]])) as StackOutputs;
}

function readOutputsFile(file: string, isDefault: boolean): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TargetError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    // The runtime writes the file once it is ready and deletes it when it stops.
    throw new TargetError(
      isDefault
        ? `the local runtime is not running: start it with \`npm start\`, or pass --outputs/--stack (there is no ${file})`
        : `there is no ${file}: the local runtime that writes it is not running (start it with \`npm start\`), or the path is wrong`,
    );
  }
}

async function describeStackOutputs(stackName: string): Promise<Record<string, string>> {
  const cloudFormation = new CloudFormationClient({});
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries(
      (Stacks?.[0]?.Outputs ?? []).flatMap(({ OutputKey, OutputValue }) => (OutputKey && OutputValue ? [[OutputKey, OutputValue]] : [])),
    );
  } catch (error) {
    // CloudFormation reports a missing stack as a ValidationError; no narrower class exists.
    if (error instanceof CloudFormationServiceException && error.name === 'ValidationError') {
      throw new TargetError(`no stack "${stackName}" in ${await cloudFormation.config.region()}: ${error.message}`);
    }
    throw error;
  } finally {
    cloudFormation.destroy();
  }
}

function listOrNone(names: string[]): string {
  return names.length > 0 ? names.join(', ') : 'none';
}

/** The command cannot run against this target; the message says what to do instead. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** The issuer of the runtime whose state directory holds the outputs file. */
export async function localIssuer(target: LocalTarget): Promise<LocalIssuer> {
  try {
    return await LocalIssuer.load(target.stateDir);
  } catch (error) {
    // An outputs.json copied away from its state directory has no issuer key beside it.
    throw new CommandError(`cannot load the local issuer from ${target.stateDir}: ${(error as Error).message}`, { cause: error });
  }
}

/** The stream table output a command needs, or a CommandError saying that the stack has no history. */
export function streamOutput(target: Target, key: StreamOutputKey, command: string): string {
  const value = target.outputs[key];
  if (value === undefined) throw new CommandError(`${command} needs a stack with history: ${target.stackName} has no ${key} output (deployed with history: false, or before streams)`);
  return value;
}
