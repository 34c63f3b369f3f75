import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ACK_KEY } from '../../lambdas/core/acks';
import { KEY_USER_INDEX, KEY_USER_INDEX_ATTRIBUTES, REVOCATION_INDEX } from '../../lambdas/core/api-keys';
import { API_KEY_INDEX, EXPIRY_INDEX, KEEPALIVE_INDEX, KEEPALIVE_INDEX_ATTRIBUTES, USER_INDEX, USER_INDEX_ATTRIBUTES } from '../../lambdas/core/connections';
import { STREAM_KEY, STREAM_SEQ } from '../../lambdas/core/streams';
import { CONNECTION_INDEX } from '../../lambdas/core/subscriptions';
import { type Engine, startDynamoDbLocal, startSqsEmulator } from '../../local/engines/engine-processes';
import { toSqsRecord } from '../../local/event-sources/sqs-records';

export const REGION = 'us-east-1';

/** Short, so a test can watch a failed message come back; {@link afterVisibilityTimeout} waits it out. */
const VISIBILITY_TIMEOUT_SECONDS = 1;

export interface QueuePair {
  url: string;
  arn: string;
  deadLetterUrl: string;
}

/** DynamoDB Local and the SQS emulator with ws-notify's tables and queues, reached through real SDK v3 clients. */
export interface StackUnderTest {
  db: DynamoDBDocumentClient;
  sqs: SQSClient;
  tableName: string;
  apiKeysTableName: string;
  subscriptionsTableName: string;
  /** Each user's and API key's open connections (`connectionCountsTable`). */
  connectionCountsTableName: string;
  /** User and topic streams (`streamsTable`, prop `history`). */
  streamsTableName: string;
  notifyUser: QueuePair;
  notifyConnection: QueuePair;
  stop(): Promise<void>;
}

export async function startStackUnderTest(): Promise<StackUnderTest> {
  const engines: Engine[] = [];
  try {
    const [dynamo, sqsEngine] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
    engines.push(dynamo, sqsEngine);
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsEngine.endpoint,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    const rawDb = new DynamoDBClient({});
    const db = DynamoDBDocumentClient.from(rawDb);
    const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
    const tableName = 'Connections';
    const apiKeysTableName = 'ApiKeys';
    const subscriptionsTableName = 'Subscriptions';
    const connectionCountsTableName = 'ConnectionCounts';
    const streamsTableName = 'Streams';
    await Promise.all([
      createStreamsTable(rawDb, streamsTableName),
      createConnectionCountsTable(rawDb, connectionCountsTableName),
      createConnectionsTable(rawDb, tableName),
      createApiKeysTable(rawDb, apiKeysTableName),
      createSubscriptionsTable(rawDb, subscriptionsTableName),
    ]);
    const notifyUser = await createQueuePair(sqs, 'NotifyUser');
    const notifyConnection = await createQueuePair(sqs, 'NotifyConnection');
    return {
      db,
      sqs,
      tableName,
      apiKeysTableName,
      subscriptionsTableName,
      connectionCountsTableName,
      streamsTableName,
      notifyUser,
      notifyConnection,
      stop: async () => {
        db.destroy();
        sqs.destroy();
        await Promise.all(engines.map((engine) => engine.stop()));
      },
    };
  } catch (error) {
    await Promise.all(engines.map((engine) => engine.stop()));
    throw error;
  }
}

/** The key schema of the construct's table (lib/ws-notify.ts). */
async function createConnectionsTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'connectionId', AttributeType: 'S' },
        { AttributeName: 'userId', AttributeType: 'S' },
        { AttributeName: 'expiryBucket', AttributeType: 'S' },
        { AttributeName: 'credentialExpiresAt', AttributeType: 'N' },
        { AttributeName: 'keyId', AttributeType: 'S' },
        { AttributeName: 'keepaliveSlot', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: USER_INDEX,
          KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: USER_INDEX_ATTRIBUTES },
        },
        {
          IndexName: EXPIRY_INDEX,
          KeySchema: [
            { AttributeName: 'expiryBucket', KeyType: 'HASH' },
            { AttributeName: 'credentialExpiresAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        { IndexName: API_KEY_INDEX, KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
        // With the construct's `keepalive` on.
        {
          IndexName: KEEPALIVE_INDEX,
          KeySchema: [{ AttributeName: 'keepaliveSlot', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: KEEPALIVE_INDEX_ATTRIBUTES },
        },
      ],
    }),
  );
}

/** The key schema of the construct's streams table. */
async function createStreamsTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: STREAM_KEY, AttributeType: 'S' },
        { AttributeName: STREAM_SEQ, AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: STREAM_KEY, KeyType: 'HASH' },
        { AttributeName: STREAM_SEQ, KeyType: 'RANGE' },
      ],
    }),
  );
}

/** The streams' settings as the construct sets them by default. */
export function streamsEnvironment(stack: Pick<StackUnderTest, 'streamsTableName'>, overrides: Record<string, string> = {}): Record<string, string> {
  return { STREAMS_TABLE_NAME: stack.streamsTableName, HISTORY_TTL_SECONDS: '86400', HISTORY_MAX_ENTRIES: '1000', REPLAY_LIMIT: '1000', ...overrides };
}

/** The key schema of the construct's connection counts table. */
async function createConnectionCountsTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'owner', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }],
    }),
  );
}

/** The `$connect` function's limits, as the construct sets them by default. */
export const CONNECTION_LIMITS_ENV = { MAX_CONNECTIONS_PER_USER: '25', MAX_CONNECTIONS_PER_API_KEY: '25', MAX_SUBSCRIPTIONS_PER_CONNECTION: '100' };

/** The key schema of the construct's API key table. */
async function createApiKeysTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'keyId', AttributeType: 'S' },
        { AttributeName: 'userId', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'N' },
        { AttributeName: 'revocationBucket', AttributeType: 'S' },
        { AttributeName: 'revokedAt', AttributeType: 'N' },
      ],
      KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: KEY_USER_INDEX,
          KeySchema: [
            { AttributeName: 'userId', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: KEY_USER_INDEX_ATTRIBUTES },
        },
        {
          IndexName: REVOCATION_INDEX,
          KeySchema: [
            { AttributeName: 'revocationBucket', KeyType: 'HASH' },
            { AttributeName: 'revokedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
}

/** The key schema of the construct's subscription table. */
async function createSubscriptionsTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'topicKey', AttributeType: 'S' },
        { AttributeName: 'connectionId', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'topicKey', KeyType: 'HASH' },
        { AttributeName: 'connectionId', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: CONNECTION_INDEX,
          KeySchema: [
            { AttributeName: 'connectionId', KeyType: 'HASH' },
            { AttributeName: 'topicKey', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
}

/** A queue and its dead-letter queue, as the construct makes them (a short visibility timeout aside). */
export async function createQueuePair(sqs: SQSClient, name: string): Promise<QueuePair> {
  const deadLetter = await sqs.send(new CreateQueueCommand({ QueueName: `${name}DeadLetter` }));
  const deadLetterArn = await queueArn(sqs, deadLetter.QueueUrl as string);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(VISIBILITY_TIMEOUT_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: 5 }),
      },
    }),
  );
  const url = queue.QueueUrl as string;
  return { url, arn: await queueArn(sqs, url), deadLetterUrl: deadLetter.QueueUrl as string };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes?.QueueArn as string;
}

/** Resolves once a message that failed now is visible again, as SQS redelivers it. */
export function afterVisibilityTimeout(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, VISIBILITY_TIMEOUT_SECONDS * 1000 + 100));
}

export async function enqueue(sqs: SQSClient, queueUrl: string, ...bodies: string[]): Promise<void> {
  for (const body of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

export async function receiveAll(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

/** Every message in the queue, deleted as it is received, so that none comes back after its visibility timeout. */
export async function takeAll(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const messages = await receiveAll(sqs, queueUrl);
  for (let start = 0; start < messages.length; start += 10) {
    const entries = messages.slice(start, start + 10).map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle }));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
  return messages;
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface DrainResult {
  batches: number;
  processed: number;
  failedMessageIds: string[];
}

/**
 * One pass over a queue as Lambda's event source mapping makes it: batches of up to 10 received
 * messages, the handler's partial batch response honoured (only successes are deleted).
 */
export async function drain(stack: StackUnderTest, queue: QueuePair, handler: SqsHandler): Promise<DrainResult> {
  const result: DrainResult = { batches: 0, processed: 0, failedMessageIds: [] };
  for (;;) {
    const { Messages = [] } = await stack.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
    );
    // A message this pass already failed may reappear once its visibility timeout lapses: leave it for the next pass.
    const fresh = Messages.filter((message) => !result.failedMessageIds.includes(message.MessageId as string));
    if (fresh.length === 0) return result;
    const records = fresh.map((message) => toSqsRecord(message, queue.arn, REGION));
    const response = await handler({ Records: records }, lambdaContext());
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    const succeeded = fresh.filter((message) => !failed.has(message.MessageId as string));
    if (succeeded.length > 0) {
      await stack.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: succeeded.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
    result.batches += 1;
    result.processed += fresh.length;
    result.failedMessageIds.push(...failed);
  }
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: '/aws/lambda/test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The key schema of the construct's Acks table (a stack with history). */
export async function createAcksTable(db: DynamoDBDocumentClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: ACK_KEY, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: ACK_KEY, KeyType: 'HASH' }],
    }),
  );
}
