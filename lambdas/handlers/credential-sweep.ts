import { createDocumentClient, createManagementApiClient } from '../clients';
import { readConfig } from '../config';
import { ApiKeyTable } from '../core/api-keys';
import { ConnectionTable } from '../core/connections';
import { closeRevokedKeyConnections, expireCredentials } from '../core/credentials';
import { SubscriptionTable } from '../core/subscriptions';
import { logger } from '../logger';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'API_KEYS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT');
const db = createDocumentClient();
const deps = {
  connections: new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME),
  subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
  apiKeys: new ApiKeyTable(db, config.API_KEYS_TABLE_NAME),
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
};

/**
 * Every minute (EventBridge): closes the connections whose credential expired and was not
 * refreshed, and those opened with an API key that has since been revoked.
 */
export const handler = async (): Promise<void> => {
  const [expired, revoked] = await Promise.all([expireCredentials(deps), closeRevokedKeyConnections(deps)]);
  logger.info('credential sweep', { expired, revoked });
};
