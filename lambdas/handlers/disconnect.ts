import { createDocumentClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { ConnectionTable, removeConnection } from '../core/connections';
import { SubscriptionTable } from '../core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { logger } from '../wiring/logger';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME');
const db = createDocumentClient();
const connections = new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME, config.CONNECTION_COUNTS_TABLE_NAME);
const subscriptions = new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  await removeConnection(connectionId, { connections, subscriptions });
  logger.info('disconnected', { connectionId: event.requestContext.connectionId });
  return { statusCode: 200 };
};
