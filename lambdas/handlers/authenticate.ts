import { createDocumentClient, createManagementApiClient } from '../wiring/clients';
import { SubscriptionTable } from '../core/subscriptions';
import { publicGroupsFromEnvironment, publicTopicsFromEnvironment } from '../transport/topic-caller';
import { readConfig } from '../wiring/config';
import { ConnectionTable } from '../core/connections';
import { refreshCredential } from '../core/credentials';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { tokenVerifierFromEnvironment } from '../wiring/credential-verifiers';
import { logger } from '../wiring/logger';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT');
const db = createDocumentClient();
const deps = {
  verifyToken: tokenVerifierFromEnvironment(),
  connections: new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME),
  // The connection's row holds the set of its topics, which ending a subscription keeps in step.
  subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME, config.CONNECTIONS_TABLE_NAME),
  publicGrants: { topics: publicTopicsFromEnvironment(), groups: publicGroupsFromEnvironment() },
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
};

/**
 * `authenticate`: a fresh token for the connection's user keeps it open past the first one's
 * expiry, and replaces its grants. On a stack with JWT off it answers `jwt_not_enabled`.
 */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId, authorizer } = event.requestContext;
  const tenant = authorizer?.['tenant'];
  const identity = {
    connectionId,
    userId: String(authorizer?.['userId'] ?? ''),
    ...(typeof tenant === 'string' && { tenant }),
  };
  const logRefusal = (reason: string) => logger.info('refresh refused', { connectionId, reason });
  return { statusCode: 200, body: await refreshCredential(event.body, identity, { ...deps, logRefusal }) };
};
