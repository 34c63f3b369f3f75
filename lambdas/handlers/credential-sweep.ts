import type { Context } from 'aws-lambda';
import { credentialSweepEnvironment } from '../contract/environment';
import { closeRevokedKeyConnections, expireCredentials, type SweepReport } from '../core/credentials';
import { createDocumentClient, createManagementApiClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { apiKeyTable, connectionTable, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(credentialSweepEnvironment);
const db = createDocumentClient();
const deps = {
  connections: connectionTable(db, env),
  subscriptions: subscriptionTable(db, env),
  apiKeys: apiKeyTable(db, env),
  managementApi: createManagementApiClient(env.MANAGEMENT_API_ENDPOINT),
};

/**
 * Every minute (EventBridge): closes the connections whose credential expired and was not
 * refreshed, and those opened with an API key that has since been revoked, within the invocation's
 * remaining time; what it does not reach, or fails to close, a later run picks up.
 */
export const handler = async (_event: unknown, context: Context): Promise<void> => {
  const run = { ...deps, deadline: Date.now() + context.getRemainingTimeInMillis() };
  const [expired, revoked] = await Promise.all([expireCredentials(run), closeRevokedKeyConnections(run)]);
  for (const failure of [...expired.failures, ...revoked.failures]) {
    if (failure.abandoned) logger.error('credential sweep gave up closing a connection', { ...failure });
    else logger.warn('credential sweep could not close a connection; a later run retries it', { ...failure });
  }
  logger.info('credential sweep', { expired: counts(expired), revoked: counts(revoked) });
};

function counts({ failures: _failures, ...outcomes }: SweepReport): Omit<SweepReport, 'failures'> {
  return outcomes;
}
