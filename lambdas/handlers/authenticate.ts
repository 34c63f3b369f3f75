import { authenticateEnvironment } from '../contract/environment';
import { refreshCredential } from '../core/credentials';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { callerOf } from '../transport/topic-caller';
import { createDocumentClient, createManagementApiClient } from '../wiring/clients';
import { tokenVerifier } from '../wiring/credential-verifiers';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { publicGrantsOf } from '../wiring/public-grants';
import { connectionRows, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(authenticateEnvironment);
const db = createDocumentClient();
const deps = {
  verifyToken: tokenVerifier(env),
  connections: connectionRows(db, env),
  // The connection's row holds the set of its topics, which ending a subscription keeps in step.
  subscriptions: subscriptionTable(db, env),
  publicGrants: publicGrantsOf(env),
  managementApi: createManagementApiClient(env.MANAGEMENT_API_ENDPOINT),
};

/**
 * `authenticate`: a fresh token for the connection's user keeps it open past the first one's
 * expiry, and replaces its grants. On a stack with JWT off it answers `jwt_not_enabled`.
 */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const identity = callerOf(event);
  const { connectionId } = identity;
  const logRefusal = (reason: string) => logger.info('refresh refused', { connectionId, reason });
  return { statusCode: 200, body: await refreshCredential(event.body, identity, { ...deps, logRefusal }) };
};
