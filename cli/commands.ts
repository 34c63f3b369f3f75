import { GetConnectionCommand, GoneException, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { type ApiKey, ApiKeyTable, type NewApiKey } from '../lambdas/core/api-keys';
import { AckTable, type AckedPosition } from '../lambdas/core/acks';
import { ConnectionTable } from '../lambdas/core/connections';
import { topicStream, USER_STREAM } from '../lambdas/core/frames';
import { type StreamEntry, StreamTable, topicStreamKey, userStreamKey } from '../lambdas/core/streams';
import type { PublishMessage } from '../lambdas/core/topics';
import { LocalIssuer, type TokenRequest } from '../local/dev-endpoints/issuer';
import { documentClientFor, managementApiClientFor, sqsClientFor } from './clients';
import type { Notification, StreamName } from './command-line';
import type { LocalTarget, StreamOutputKey, Target } from './target';

/** The command cannot run against this target; the message says what to do instead. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** `token`: a JWT from the local runtime's issuer. */
export async function printToken(target: Target, request: TokenRequest): Promise<void> {
  if (target.kind !== 'local') {
    throw new CommandError(
      `token mints tokens for the local runtime only; ${target.stackName} is deployed and accepts tokens from ` +
        'your identity provider (the jwtIssuer it was deployed with): get one there',
    );
  }
  console.log(await (await localIssuer(target)).mint(request));
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

/** `send`: one message on the notification's queue; prints its SQS message id. */
export async function sendNotification(target: Target, { queue, message }: Notification): Promise<void> {
  const sqs = sqsClientFor(target);
  try {
    const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: target.outputs[queue], MessageBody: JSON.stringify(message) }));
    console.log(MessageId);
  } finally {
    sqs.destroy();
  }
}

/** `publish`: the event on the Publish queue; prints its id. */
export async function publishEvent(target: Target, message: PublishMessage): Promise<void> {
  const sqs = sqsClientFor(target);
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: target.outputs.PublishQueueUrl, MessageBody: JSON.stringify(message) }));
    console.log(message.event.id);
  } finally {
    sqs.destroy();
  }
}

/** `connections`: the user's connections from the table's byUser index, each described by the management API. */
export async function listConnections(target: Target, userId: string): Promise<void> {
  const db = documentClientFor(target);
  const managementApi = managementApiClientFor(target);
  try {
    const table = new ConnectionTable(db, target.outputs.ConnectionsTableName);
    for await (const connectionIds of table.connectionIdsOf(userId)) {
      const connections = await Promise.all(connectionIds.map((connectionId) => describeConnection(managementApi, connectionId)));
      for (const connection of connections) console.log(JSON.stringify({ userId, ...connection }));
    }
  } finally {
    db.destroy();
    managementApi.destroy();
  }
}

async function describeConnection(managementApi: ApiGatewayManagementApiClient, connectionId: string) {
  try {
    const { ConnectedAt, LastActiveAt, Identity } = await managementApi.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    return {
      connectionId,
      connectedAt: ConnectedAt?.toISOString(),
      lastActiveAt: LastActiveAt?.toISOString(),
      sourceIp: Identity?.SourceIp,
      userAgent: Identity?.UserAgent,
    };
  } catch (error) {
    // The row outlived its connection (its $disconnect never ran); TTL or the next delivery removes it.
    if (error instanceof GoneException) return { connectionId, gone: true };
    throw error;
  }
}

/** `apikey create`: the new key on stdout, the only time it is shown; what it is, on stderr. */
export async function createApiKey(target: Target, key: NewApiKey): Promise<void> {
  await withApiKeyTable(target, async (keys) => {
    const { apiKey, record } = await keys.create(key);
    console.log(apiKey);
    console.error(`created ${JSON.stringify(describeApiKey(record))}; the key is shown once: store it now`);
  });
}

/** `apikey list`: one JSON line per key of the user, oldest first. */
export async function listApiKeys(target: Target, userId: string): Promise<void> {
  await withApiKeyTable(target, async (keys) => {
    for await (const key of keys.keysOf(userId)) console.log(JSON.stringify(describeApiKey(key)));
  });
}

/** `apikey revoke`: an unknown key fails; revoking a revoked key again changes nothing. */
export async function revokeApiKey(target: Target, keyId: string): Promise<void> {
  await withApiKeyTable(target, async (keys) => {
    const outcome = await keys.revoke(keyId);
    if (outcome === 'unknown') throw new CommandError(`there is no API key ${keyId} (apikey list --user <id> shows a user's keys)`);
    console.log(
      outcome === 'revoked'
        ? `revoked ${keyId}: its connections are closed with "credential_revoked" within a minute`
        : `${keyId} was already revoked`,
    );
  });
}

async function withApiKeyTable(target: Target, use: (keys: ApiKeyTable) => Promise<void>): Promise<void> {
  const db = documentClientFor(target);
  try {
    await use(new ApiKeyTable(db, target.outputs.ApiKeysTableName));
  } finally {
    db.destroy();
  }
}

function describeApiKey({ keyId, userId, tenant, scope, topics, publishTopics, groups, autoSubscribe, keepalive, createdAt, expiresAt, revokedAt }: ApiKey, now = Date.now() / 1000) {
  const status = revokedAt !== undefined ? 'revoked' : expiresAt !== undefined && expiresAt <= now ? 'expired' : 'active';
  const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
  return {
    keyId,
    userId,
    ...(tenant !== undefined && { tenant }),
    scope,
    // The grants, so that an operator sees what a key may do without reading the table.
    ...(topics !== undefined && { topics }),
    ...(publishTopics !== undefined && { publishTopics }),
    ...(groups !== undefined && { groups }),
    ...(autoSubscribe !== undefined && { autoSubscribe }),
    ...(keepalive !== undefined && { keepalive }),
    status,
    createdAt: iso(createdAt),
    ...(expiresAt !== undefined && { expiresAt: iso(expiresAt) }),
    ...(revokedAt !== undefined && { revokedAt: iso(revokedAt) }),
  };
}

/** `history`: the stream's newest retained entries, oldest first, one JSON line each. */
export async function printHistory(target: Target, stream: StreamName, limit: number): Promise<void> {
  const tableName = streamOutput(target, 'StreamsTableName', 'history');
  const db = documentClientFor(target);
  try {
    // What readers skip (expired, an earlier epoch) is skipped here; historyMaxEntries is the stack's, not known here.
    const streams = new StreamTable(db, tableName, { ttlSeconds: 0, maxEntries: Number.MAX_SAFE_INTEGER });
    const key = 'userId' in stream ? userStreamKey(stream.userId, stream.tenant) : topicStreamKey(stream.topic, stream.tenant);
    const newest = await streams.newest(key);
    if (newest === undefined) return;
    const entries = (await streams.newestFrom(key, newest.epochStart, limit)).filter((entry) => streams.isRetained(entry, newest));
    const name = 'userId' in stream ? USER_STREAM : topicStream(stream.topic);
    for (const entry of entries.reverse()) console.log(JSON.stringify(describeEntry(name, entry)));
  } finally {
    db.destroy();
  }
}

function describeEntry(stream: string, { seq, epoch, appendedAt, content }: StreamEntry) {
  return { stream, seq, epoch, appendedAt: new Date(appendedAt).toISOString(), ...(JSON.parse(content) as object) };
}

/** `streams`: the user stream's last seq, acked seq and unacked count (topic streams have no per-user ack). */
export async function printStreams(target: Target, userId: string, tenant: string | undefined): Promise<void> {
  const streamsTable = streamOutput(target, 'StreamsTableName', 'streams');
  const acksTable = streamOutput(target, 'AcksTableName', 'streams');
  const db = documentClientFor(target);
  try {
    const key = userStreamKey(userId, tenant);
    const streams = new StreamTable(db, streamsTable, { ttlSeconds: 0, maxEntries: Number.MAX_SAFE_INTEGER });
    const [newest, acked] = await Promise.all([streams.newest(key), new AckTable(db, acksTable, 0).position(key)]);
    console.log(JSON.stringify({ userId, ...(tenant !== undefined && { tenant }), stream: USER_STREAM, ...streamState(newest, acked) }));
  } finally {
    db.destroy();
  }
}

/** Where a stream stands for its user: an ack of another epoch acks nothing of this one. */
export function streamState(newest: Pick<StreamEntry, 'seq' | 'epoch' | 'epochStart'> | undefined, acked: AckedPosition | undefined) {
  if (newest === undefined) return { lastSeq: 0, epoch: null, ackedSeq: null, unacked: 0 };
  const ackedSeq = acked !== undefined && acked.epoch === newest.epoch ? acked.ackedSeq : null;
  return { lastSeq: newest.seq, epoch: newest.epoch, ackedSeq, unacked: newest.seq - Math.max(ackedSeq ?? 0, newest.epochStart - 1) };
}

function streamOutput(target: Target, key: StreamOutputKey, command: string): string {
  const value = target.outputs[key];
  if (value === undefined) throw new CommandError(`${command} needs a stack with history: ${target.stackName} has no ${key} output (deployed with history: false, or before streams)`);
  return value;
}
