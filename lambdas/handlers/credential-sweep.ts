import type { Context } from 'aws-lambda';
import { createDocumentClient, createManagementApiClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { ApiKeyTable } from '../core/api-keys';
import { ConnectionTable } from '../core/connections';
import { closeRevokedKeyConnections, expireCredentials, type SweepReport } from '../core/credentials';
import { SubscriptionTable } from '../core/subscriptions';
import { logger } from '../wiring/logger';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'API_KEYS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT');
const db = createDocumentClient();
const deps = {
  connections: new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME, config.CONNECTION_COUNTS_TABLE_NAME),
  subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
  apiKeys: new ApiKeyTable(db, config.API_KEYS_TABLE_NAME),
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
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
