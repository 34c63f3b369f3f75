import { createHash } from 'node:crypto';
import {
  type CreateTableCommandInput,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { resourcesOfType, type SynthesizedStack, type TemplateResource } from './cloud-assembly';
import { resolve, type ResolveContext, resolveString, type ResourceValues } from './intrinsics';

/** The account id every local ARN carries (the one the SQS emulator uses). */
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface Engines {
  dynamoDb: DynamoDBClient;
  sqs: SQSClient;
}

/**
 * Creates the stack's DynamoDB tables and SQS queues in the local engines (again on every reload:
 * creation is idempotent) and returns what `Ref` and `Fn::GetAtt` of each resource resolve to.
 */
export async function provision(stack: SynthesizedStack, engines: Engines): Promise<ResolveContext> {
  const resources = new Map<string, ResourceValues>();
  const context: ResolveContext = { region: stack.region, accountId: LOCAL_ACCOUNT_ID, stackName: stack.stackName, resources };
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    resources.set(logicalId, placeholderValues(logicalId, resource, context));
  }
  // Tables and queues are made at once, in both engines: a start waits for the slower of the two.
  const tables = resourcesOfType(stack, 'AWS::DynamoDB::Table').map(async ([logicalId, table]) => {
    resources.set(logicalId, await createTable(engines.dynamoDb, physicalName(stack, logicalId, table, 'TableName', context), table, context));
  });
  const queues = resourcesOfType(stack, 'AWS::SQS::Queue');
  const queuesReady = (async () => {
    // Two passes: a redrive policy names its dead-letter queue's ARN, which exists only once that queue does.
    await Promise.all(
      queues.map(async ([logicalId, queue]) => {
        resources.set(logicalId, await createQueue(engines.sqs, queueName(stack, logicalId, queue, context)));
      }),
    );
    await Promise.all(
      queues.map(([logicalId, queue]) =>
        engines.sqs.send(new SetQueueAttributesCommand({ QueueUrl: resources.get(logicalId)?.ref, Attributes: queueAttributes(queue, context) })),
      ),
    );
  })();
  await Promise.all([...tables, queuesReady]);
  return context;
}

/** Values for resources the runtime emulates without creating anything (functions, the API) or does not emulate. */
function placeholderValues(logicalId: string, resource: TemplateResource, context: ResolveContext): ResourceValues {
  const { region, accountId } = context;
  switch (resource.Type) {
    case 'AWS::Lambda::Function': {
      const name = physicalName({ stackName: context.stackName }, logicalId, resource, 'FunctionName', context);
      return { ref: name, attributes: { Arn: `arn:aws:lambda:${region}:${accountId}:function:${name}` } };
    }
    case 'AWS::ApiGatewayV2::Api': {
      const apiId = localApiId(logicalId);
      const scheme = resource.Properties?.['ProtocolType'] === 'HTTP' ? 'https' : 'wss';
      return { ref: apiId, attributes: { ApiId: apiId, ApiEndpoint: `${scheme}://${apiId}.execute-api.${region}.amazonaws.com` } };
    }
    case 'AWS::ApiGatewayV2::Stage':
      return { ref: resolveString(resource.Properties?.['StageName'], context, `${logicalId}.StageName`), attributes: {} };
    default: {
      const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'local';
      return { ref: logicalId, attributes: { Arn: `arn:aws:${service}:${region}:${accountId}:${logicalId}` } };
    }
  }
}

/** A stable, API Gateway-shaped id (10 lowercase characters) for a local API. */
function localApiId(logicalId: string): string {
  return createHash('sha256').update(logicalId).digest('hex').replace(/[0-9]/g, '').padEnd(10, 'a').slice(0, 10);
}

/** The name CloudFormation would generate (`<stack>-<logicalId>`), unless the template names it. */
function physicalName(
  stack: { stackName: string },
  logicalId: string,
  resource: TemplateResource,
  nameProperty: string,
  context: ResolveContext,
): string {
  const named = resource.Properties?.[nameProperty];
  if (named !== undefined) return resolveString(named, context, `${logicalId}.${nameProperty}`);
  return `${stack.stackName}-${logicalId}`.slice(0, 64);
}

function queueName(stack: SynthesizedStack, logicalId: string, queue: TemplateResource, context: ResolveContext): string {
  const name = physicalName(stack, logicalId, queue, 'QueueName', context);
  return queue.Properties?.['FifoQueue'] === true && !name.endsWith('.fifo') ? `${name.slice(0, 75)}.fifo` : name;
}

async function createTable(
  db: DynamoDBClient,
  tableName: string,
  table: TemplateResource,
  context: ResolveContext,
): Promise<ResourceValues> {
  const properties = resolve(table.Properties ?? {}, context) as Record<string, unknown>;
  const onDemand = properties['BillingMode'] === 'PAY_PER_REQUEST';
  const indexes = (key: string) =>
    (properties[key] as Record<string, unknown>[] | undefined)?.map(({ IndexName, KeySchema, Projection, ProvisionedThroughput }) => ({
      IndexName,
      KeySchema,
      Projection,
      ...(!onDemand && { ProvisionedThroughput }),
    }));
  const input = {
    TableName: tableName,
    AttributeDefinitions: properties['AttributeDefinitions'],
    KeySchema: properties['KeySchema'],
    BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ...(!onDemand && { ProvisionedThroughput: properties['ProvisionedThroughput'] ?? { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } }),
    ...(properties['GlobalSecondaryIndexes'] !== undefined && { GlobalSecondaryIndexes: indexes('GlobalSecondaryIndexes') }),
    ...(properties['LocalSecondaryIndexes'] !== undefined && { LocalSecondaryIndexes: indexes('LocalSecondaryIndexes') }),
    ...(properties['StreamSpecification'] !== undefined && {
      StreamSpecification: { StreamEnabled: true, ...(properties['StreamSpecification'] as object) },
    }),
  } as CreateTableCommandInput;
  try {
    await db.send(new CreateTableCommand(input));
    const ttl = properties['TimeToLiveSpecification'] as { AttributeName: string; Enabled: boolean } | undefined;
    if (ttl?.Enabled) await db.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: ttl }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const { Table } = await db.send(new DescribeTableCommand({ TableName: tableName }));
  return {
    ref: tableName,
    attributes: {
      Arn: Table?.TableArn as string,
      ...(Table?.LatestStreamArn && { StreamArn: Table.LatestStreamArn }),
    },
  };
}

async function createQueue(sqs: SQSClient, queueName: string): Promise<ResourceValues> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: queueName, ...(queueName.endsWith('.fifo') && { Attributes: { FifoQueue: 'true' } }) }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { ref: QueueUrl as string, attributes: { Arn: Attributes?.QueueArn as string, QueueName: queueName, QueueUrl: QueueUrl as string } };
}

/** The queue properties SQS knows as attributes; encryption settings have no local meaning. */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'ContentBasedDeduplication',
] as const;

function queueAttributes(queue: TemplateResource, context: ResolveContext): Record<string, string> {
  const properties = resolve(queue.Properties ?? {}, context) as Record<string, unknown>;
  return Object.fromEntries(
    QUEUE_ATTRIBUTES.filter((name) => properties[name] !== undefined).map((name) => {
      const value = properties[name];
      return [name, typeof value === 'object' ? JSON.stringify(value) : String(value)];
    }),
  );
}
