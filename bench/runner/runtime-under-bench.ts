import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { readSynthesizedStack, resourcesOfType } from '../../local/cloudformation/cloud-assembly';
import type { InvocationReport } from '../../local/lambda/functions';
import { type LocalOutputs, type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { dynamoDbItemBytes } from '../cost/cost-model';
import { handlerName } from '../measurements/bundles';

/** A local runtime started for the benchmark, with clients for its queues and table. */
export interface RuntimeUnderBench {
  runtime: LocalRuntime;
  outputs: LocalOutputs;
  /** The synthesized app (its bundles are measured from here). */
  assemblyDir: string;
  sqs: SQSClient;
  db: DynamoDBDocumentClient;
  /** The functions fed by the stack's queues: the delivery path whose calls and durations are counted. */
  deliveryFunctions: string[];
  /** Every function's short name (`notify-user`), by the name the runtime gives it. */
  shortNames: Map<string, string>;
  memoryMb: number;
  stop(): Promise<void>;
}

/** `npm start`, in-process, on port 0 with a state directory of its own, every invocation measured. */
export async function startRuntimeUnderBench(options: {
  projectDir: string;
  onInvocation: (report: InvocationReport) => void;
  functionLog: (functionName: string, line: string) => void;
  log: (message: string) => void;
}): Promise<RuntimeUnderBench> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ws-notify-bench-'));
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime({
      port: 0,
      projectDir: options.projectDir,
      stateDir,
      // Connections opened early in a run stay open (and idle) through the later phases.
      idleTimeoutSeconds: 3600,
      // Measured under sustained load, DynamoDB Local runs as it would on a server.
      fullJitDynamoDb: true,
      onInvocation: options.onInvocation,
      functionLog: options.functionLog,
      log: options.log,
    });
  } catch (error) {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  const { outputs } = runtime;
  const clientConfig = { region: outputs.Region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  // cacheMiddleware: the benchmark's own sends should cost the machine as little as they can.
  const sqs = new SQSClient({ ...clientConfig, endpoint: outputs.SqsEndpoint, useQueueUrlAsEndpoint: false, cacheMiddleware: true });
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig, endpoint: outputs.DynamoDbEndpoint }));
  const assemblyDir = path.join(stateDir, 'cdk.out');
  const stack = readSynthesizedStack(assemblyDir, runtime.stackName);
  // The local runtime names functions as CloudFormation would: `<stack>-<logicalId>`.
  const deliveryLogicalIds = resourcesOfType(stack, 'AWS::Lambda::EventSourceMapping').map(
    ([, mapping]) => (mapping.Properties?.['FunctionName'] as { Ref?: string } | undefined)?.Ref ?? '',
  );
  const memory = deliveryLogicalIds.map((logicalId) => Number(stack.resources[logicalId]?.Properties?.['MemorySize'] ?? 128));
  const localName = (logicalId: string) => `${stack.stackName}-${logicalId}`.slice(0, 64);
  const shortNames = new Map(
    resourcesOfType(stack, 'AWS::Lambda::Function').map(([logicalId, resource]) => [localName(logicalId), handlerName(logicalId, resource)]),
  );
  return {
    runtime,
    outputs,
    assemblyDir,
    sqs,
    db,
    deliveryFunctions: deliveryLogicalIds.map(localName),
    shortNames,
    memoryMb: Math.max(...memory),
    stop: async () => {
      sqs.destroy();
      db.destroy();
      await runtime.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** What the connection table holds: its rows, their mean size, and a sample row. */
export async function connectionTableStats(db: DynamoDBDocumentClient, tableName: string): Promise<{ rows: number; meanItemBytes: number; sample?: Record<string, unknown> }> {
  let rows = 0;
  let bytes = 0;
  let sample: Record<string, unknown> | undefined;
  let page: ScanCommandOutput | undefined;
  do {
    page = await db.send(new ScanCommand({ TableName: tableName, ...(page?.LastEvaluatedKey && { ExclusiveStartKey: page.LastEvaluatedKey }) }));
    for (const item of page.Items ?? []) {
      rows += 1;
      bytes += dynamoDbItemBytes(item);
      sample ??= item;
    }
  } while (page.LastEvaluatedKey);
  return { rows, meanItemBytes: rows > 0 ? Math.round(bytes / rows) : 0, ...(sample && { sample }) };
}

/**
 * The read capacity DynamoDB Local reports for the two designs' lookups: a Query of one user's GSI
 * entries, and a Scan of the whole table. A cross-check of the cost model's formulas (DynamoDB Local
 * computes capacity as DynamoDB documents it, on its own size estimates).
 */
export async function reportedReadCapacity(
  db: DynamoDBDocumentClient,
  tableName: string,
  lookup: { indexName: string; userId: string } | 'scan',
): Promise<{ readUnits: number | null; calls: number; items: number }> {
  let readUnits = 0;
  let reported = false;
  let calls = 0;
  let items = 0;
  let page: { LastEvaluatedKey?: Record<string, unknown>; ConsumedCapacity?: { CapacityUnits?: number }; Count?: number } | undefined;
  do {
    const start = page?.LastEvaluatedKey ? { ExclusiveStartKey: page.LastEvaluatedKey } : {};
    page =
      lookup === 'scan'
        ? await db.send(new ScanCommand({ TableName: tableName, ReturnConsumedCapacity: 'TOTAL', ...start }))
        : await db.send(
            new QueryCommand({
              TableName: tableName,
              IndexName: lookup.indexName,
              KeyConditionExpression: 'userId = :userId',
              ExpressionAttributeValues: { ':userId': lookup.userId },
              ReturnConsumedCapacity: 'TOTAL',
              ...start,
            }),
          );
    calls += 1;
    items += page.Count ?? 0;
    if (page.ConsumedCapacity?.CapacityUnits !== undefined) {
      reported = true;
      readUnits += page.ConsumedCapacity.CapacityUnits;
    }
  } while (page.LastEvaluatedKey);
  return { readUnits: reported ? readUnits : null, calls, items };
}
