import { GetConnectionCommand, GoneException, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { type ApiKey, ApiKeyTable, type NewApiKey } from '../lambdas/core/api-keys';
import { ConnectionTable } from '../lambdas/core/connections';
import type { PublishMessage } from '../lambdas/core/topics';
import { LocalIssuer, type TokenRequest } from '../local/issuer';
import { documentClientFor, managementApiClientFor, sqsClientFor } from './clients';
import type { Notification } from './command-line';
import type { LocalTarget, Target } from './target';

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
