import { createDocumentClient } from '../clients';
import { readConfig } from '../config';
import { header } from '../core/auth';
import { ConnectionLimitError, ConnectionTable } from '../core/connections';
import { offeredSubprotocols, selectedSubprotocol } from '../core/subprotocol';
import type { WebSocketEvent, WebSocketResult } from '../events';
import { logger } from '../logger';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'MAX_CONNECTIONS_PER_USER', 'MAX_CONNECTIONS_PER_API_KEY');
const connections = new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME, config.CONNECTION_COUNTS_TABLE_NAME);
const limits = { perUser: Number(config.MAX_CONNECTIONS_PER_USER), perKey: Number(config.MAX_CONNECTIONS_PER_API_KEY) };

/** A refused `$connect`'s status: API Gateway refuses the upgrade with it, so the client sees why (too many). */
export const TOO_MANY_CONNECTIONS = 429;

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
  try {
    await connections.register(
      {
        connectionId,
        userId,
        connectedAt,
        ...(typeof tenant === 'string' && { tenant }),
        ...(typeof keyId === 'string' && { keyId }),
        ...(Number.isFinite(credentialExpiresAt) && { credentialExpiresAt }),
      },
      // API Gateway may pass authorizer context values on as strings.
      { ...limits, anonymous: String(authorizer?.['anonymous']) === 'true' },
    );
  } catch (error) {
    if (!(error instanceof ConnectionLimitError)) throw error;
    logger.warn('connection refused: too many open connections', { connectionId, exceeded: error.kind, limit: error.limit, ...(typeof keyId === 'string' && { keyId }) });
    return { statusCode: TOO_MANY_CONNECTIONS, body: JSON.stringify({ error: 'too_many_connections', message: error.message }) };
  }
  logger.info('connected', { connectionId });

  const subprotocol = selectedSubprotocol(offeredSubprotocols(header(event, 'sec-websocket-protocol')));
  return { statusCode: 200, ...(subprotocol && { headers: { 'Sec-WebSocket-Protocol': subprotocol } }) };
};
