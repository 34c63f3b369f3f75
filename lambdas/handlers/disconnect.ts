import { disconnectEnvironment } from '../contract/environment';
import { removeConnection } from '../core/connections';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { connectionTable, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(disconnectEnvironment);
const db = createDocumentClient();
const connections = connectionTable(db, env);
const subscriptions = subscriptionTable(db, env);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  await removeConnection(connectionId, { connections, subscriptions });
  logger.info('disconnected', { connectionId: event.requestContext.connectionId });
  return { statusCode: 200 };
};
