import { createDocumentClient, createManagementApiClient } from '../clients';
import { readConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import { expireCredentials } from '../core/credentials';
import { logger } from '../logger';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT');
const deps = {
  connections: new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME),
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
};

/** Every minute (EventBridge): closes the connections whose credential has expired and was not refreshed. */
export const handler = async (): Promise<void> => {
  const outcomes = await expireCredentials(deps);
  logger.info('credential expiry sweep', outcomes);
};
