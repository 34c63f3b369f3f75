import { type ApiGatewayManagementApiClient, GetConnectionCommand, GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConnectionTable } from '../../lambdas/core/connections';
import { documentClientFor, managementApiClientFor } from '../clients';
import { type HelpCommandLine, parseOptions, required, type TargetOptions, targetOf } from '../options';
import type { Target } from '../target';
import { TARGET_HELP } from '../usage';

const CONNECTIONS_USAGE = `Usage: ws-notify connections --user <id> [target]

Lists the user's open connections, one JSON line each: the connection id, when it connected,
when it was last active and where from. A connection the table still lists but API Gateway no
longer knows is shown with "gone": true.

Options:
  --user <id>   the user

${TARGET_HELP}`;

export type ConnectionsCommandLine = { command: 'connections'; target: TargetOptions; userId: string };

export function parseConnections(args: string[]): ConnectionsCommandLine | HelpCommandLine {
  const values = parseOptions(args, CONNECTIONS_USAGE, ['user']);
  if (values.help) return { command: 'help', text: CONNECTIONS_USAGE };
  return { command: 'connections', target: targetOf(values), userId: required(values.user, '--user', CONNECTIONS_USAGE) };
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
