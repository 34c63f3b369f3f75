import { createDocumentClient } from '../clients';
import { readConfig } from '../config';
import { header } from '../core/auth';
import { ConnectionTable } from '../core/connections';
import { offeredSubprotocols, selectedSubprotocol } from '../core/subprotocol';
import type { WebSocketEvent, WebSocketResult } from '../events';
import { logger } from '../logger';

const config = readConfig('CONNECTIONS_TABLE_NAME');
const connections = new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId, connectedAt, authorizer } = event.requestContext;
  // The user is whoever the authorizer says; nothing the client sent can name it.
  const userId = authorizer?.['userId'];
  if (typeof userId !== 'string' || userId.length === 0) {
    throw new Error('$connect reached without an authorizer userId: is the authorizer attached?');
  }
  const tenant = authorizer?.['tenant'];
  const keyId = authorizer?.['keyId'];
  // API Gateway may pass authorizer context values on as strings.
  const credentialExpiresAt = Number(authorizer?.['exp']);
  await connections.register({
    connectionId,
    userId,
    connectedAt,
    ...(typeof tenant === 'string' && { tenant }),
    ...(typeof keyId === 'string' && { keyId }),
    ...(Number.isFinite(credentialExpiresAt) && { credentialExpiresAt }),
  });
  logger.info('connected', { connectionId });

  const subprotocol = selectedSubprotocol(offeredSubprotocols(header(event, 'sec-websocket-protocol')));
  return { statusCode: 200, ...(subprotocol && { headers: { 'Sec-WebSocket-Protocol': subprotocol } }) };
};
