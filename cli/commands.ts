import { GetConnectionCommand, GoneException, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { ConnectionTable } from '../lambdas/core/connections';
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
