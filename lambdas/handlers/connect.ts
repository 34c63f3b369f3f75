import { connectEnvironment } from '../contract/environment';
import { header } from '../core/auth';
import { ConnectRefusedError, connectSubscriptions, wantsKeepalive } from '../core/connect-options';
import { ConnectionLimitError } from '../core/connections';
import { keepaliveSlot } from '../core/keepalive';
import { offeredSubprotocols, selectedSubprotocol } from '../core/subprotocol';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { publicGrantsOf } from '../wiring/public-grants';
import { connectionTable, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(connectEnvironment);
const keepaliveMode = env.KEEPALIVE ?? 'off';
const db = createDocumentClient();
const connections = connectionTable(db, env);
const subscriptions = subscriptionTable(db, env);
const limits = { perUser: env.MAX_CONNECTIONS_PER_USER, perKey: env.MAX_CONNECTIONS_PER_API_KEY };
const maxSubscriptions = env.MAX_SUBSCRIPTIONS_PER_CONNECTION;
const publicGrants = publicGrantsOf(env);

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
  const query = event.queryStringParameters ?? {};
  try {
    // Decided before anything is stored: a refused connection leaves no row and no subscription.
    const { grants } = topicCallerOf(event, publicGrants);
    const autoSubscribe = typeof authorizer?.['autoSubscribe'] === 'string' ? (JSON.parse(authorizer['autoSubscribe']) as string[]) : [];
    const wanted = connectSubscriptions(query, autoSubscribe, grants, maxSubscriptions);
    const keepalive = wantsKeepalive(query, String(authorizer?.['keepalive']) === 'true', keepaliveMode);
    await connections.register(
      {
        connectionId,
        userId,
        connectedAt,
        ...(typeof tenant === 'string' && { tenant }),
        ...(typeof keyId === 'string' && { keyId }),
        ...(Number.isFinite(credentialExpiresAt) && { credentialExpiresAt }),
        ...(keepalive && { keepaliveSlot: keepaliveSlot(connectionId, connectedAt) }),
      },
      // API Gateway may pass authorizer context values on as strings.
      { ...limits, anonymous: String(authorizer?.['anonymous']) === 'true' },
      wanted.length > 0 ? subscriptions.initial(connectionId, typeof tenant === 'string' ? tenant : undefined, wanted) : undefined,
    );
  } catch (error) {
    if (error instanceof ConnectRefusedError) {
      const { statusCode, code, message } = error.refusal;
      logger.info('connection refused: its subscriptions or keepalive at connect', { connectionId, code, reason: message });
      return { statusCode, body: JSON.stringify({ error: code, message }) };
    }
    if (!(error instanceof ConnectionLimitError)) throw error;
    logger.warn('connection refused: too many open connections', { connectionId, exceeded: error.kind, limit: error.limit, ...(typeof keyId === 'string' && { keyId }) });
    return { statusCode: TOO_MANY_CONNECTIONS, body: JSON.stringify({ error: 'too_many_connections', message: error.message }) };
  }
  logger.info('connected', { connectionId });

  const subprotocol = selectedSubprotocol(offeredSubprotocols(header(event, 'sec-websocket-protocol')));
  return { statusCode: 200, ...(subprotocol && { headers: { 'Sec-WebSocket-Protocol': subprotocol } }) };
};
