import { createDocumentClient } from '../clients';
import { readConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import type { WebSocketEvent, WebSocketResult } from '../events';
import { logger } from '../logger';

const config = readConfig('CONNECTIONS_TABLE_NAME');
const connections = new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  await connections.remove(event.requestContext.connectionId);
  logger.info('disconnected', { connectionId: event.requestContext.connectionId });
  return { statusCode: 200 };
};
