import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Who connected, and through what request: what every event of the connection repeats. */
export interface ConnectionRequest {
  connectionId: string;
  connectedAt: number;
  apiId: string;
  stage: string;
  domainName: string;
  sourceIp: string;
  userAgent?: string;
  /** The headers `$connect` gets, in API Gateway's order: name, value, as many times as sent. */
  headers: [string, string][];
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
}

export type AuthorizerContext = Record<string, unknown>;

/** API Gateway's ids look like `L0SM9cOFvHcCIhw=`: 10 random bytes in base64. */
export function newApiGatewayId(): string {
  return randomBytes(10).toString('base64');
}

/**
 * Headers of the upgrade request that API Gateway does not pass on as sent: the hop-by-hop ones of
 * the handshake (the authorizer gets its own `Connection`, `Upgrade` and `content-length`), and the
 * ones it sets itself.
 */
const REPLACED_HEADERS = new Set(['connection', 'upgrade', 'content-length', 'x-amzn-trace-id', 'x-forwarded-port', 'x-forwarded-proto']);

/**
 * What API Gateway learns from an upgrade request: the client's headers as it cased them, plus
 * `X-Amzn-Trace-Id` and the `X-Forwarded-*` it adds; the query string; the caller.
 */
export function connectionRequest(
  request: IncomingMessage,
  ids: { connectionId: string; apiId: string; stage: string },
): ConnectionRequest {
  const connectedAt = Date.now();
  const sourceIp = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  const sent: [string, string][] = [];
  const forwardedFor: string[] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    const value = request.rawHeaders[i + 1] as string;
    if (name.toLowerCase() === 'x-forwarded-for') forwardedFor.push(value);
    else if (!REPLACED_HEADERS.has(name.toLowerCase())) sent.push([name, value]);
  }
  const headers = sortedHeaders([
    ...sent,
    ['X-Amzn-Trace-Id', traceId(connectedAt)],
    // As API Gateway does for REST APIs: a client's own X-Forwarded-For is kept, the caller appended.
    ['X-Forwarded-For', [...forwardedFor, sourceIp].join(', ')],
    // The port and scheme the client used: API Gateway's are 443 and https.
    ['X-Forwarded-Port', String(request.socket.localPort)],
    ['X-Forwarded-Proto', (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'],
  ]);
  const url = new URL(request.url ?? '/', 'http://localhost');
  const query = [...url.searchParams];
  return {
    ...ids,
    connectedAt,
    domainName: request.headers.host ?? 'localhost',
    sourceIp,
    ...(request.headers['user-agent'] && { userAgent: request.headers['user-agent'] }),
    headers,
    ...(query.length > 0 && {
      queryStringParameters: Object.fromEntries(query),
      multiValueQueryStringParameters: query.reduce<Record<string, string[]>>((all, [key, value]) => {
        (all[key] ??= []).push(value);
        return all;
      }, {}),
    }),
  };
}

/** The value of a header (any casing) as `headers` holds it: the last one sent. */
export function headerValue(connection: ConnectionRequest, name: string): string | undefined {
  return connection.headers.filter(([sent]) => sent.toLowerCase() === name.toLowerCase()).at(-1)?.[1];
}

/**
 * API Gateway lists headers by name, whatever the case (`content-length` between `Connection` and
 * `Host`). The sort is stable, so a repeated header keeps the order its values were sent in.
 */
function sortedHeaders(headers: [string, string][]): [string, string][] {
  const key = (name: string) => name.toLowerCase();
  return [...headers].sort(([a], [b]) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * `headers` holds the last value of a repeated header and `multiValueHeaders` every one, as in
 * REST APIs' proxy events, whose format WebSocket APIs share.
 */
function headerMaps(headers: [string, string][]): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of headers) {
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  return { headers: single, multiValueHeaders: multi };
}

/** An X-Ray trace header: `Root=1-<epoch seconds, hex>-<96 random bits, hex>`. */
function traceId(at: number): string {
  return `Root=1-${Math.floor(at / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

/**
 * The `requestContext` of every event, its fields in API Gateway's order: `messageId` and
 * `disconnectStatusCode` follow `routeKey`, `disconnectReason` follows `messageDirection`.
 */
function requestContext(
  connection: ConnectionRequest,
  routeKey: string,
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
  extra: { messageId?: string; disconnect?: { code: number; reason: string } } = {},
): Record<string, unknown> {
  const now = new Date();
  const requestId = newApiGatewayId();
  return {
    routeKey,
    ...(extra.messageId !== undefined && { messageId: extra.messageId }),
    ...(extra.disconnect && { disconnectStatusCode: extra.disconnect.code }),
    eventType,
    extendedRequestId: requestId,
    requestTime: apacheTime(now),
    messageDirection: 'IN',
    ...(extra.disconnect && { disconnectReason: extra.disconnect.reason }),
    stage: connection.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: now.getTime(),
    identity: { ...(connection.userAgent && { userAgent: connection.userAgent }), sourceIp: connection.sourceIp },
    requestId,
    domainName: connection.domainName,
    connectionId: connection.connectionId,
    apiId: connection.apiId,
  };
}

/** The REQUEST authorizer's event: the upgrade request, and `methodArn` naming the `$connect` route. */
export function authorizerEvent(connection: ConnectionRequest, region: string, accountId: string): Record<string, unknown> {
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${region}:${accountId}:${connection.apiId}/${connection.stage}/$connect`,
    // The handshake's own headers reach the authorizer only, as API Gateway sets them.
    ...headerMaps(sortedHeaders([...connection.headers, ['Connection', 'upgrade'], ['content-length', '0'], ['Upgrade', 'websocket']])),
    queryStringParameters: connection.queryStringParameters ?? {},
    multiValueQueryStringParameters: connection.multiValueQueryStringParameters ?? {},
    stageVariables: {},
    requestContext: requestContext(connection, '$connect', 'CONNECT'),
  };
}

export function connectEvent(
  connection: ConnectionRequest,
  authorizer: AuthorizerContext | undefined,
): Record<string, unknown> {
  return {
    ...headerMaps(connection.headers),
    ...(connection.queryStringParameters && {
      queryStringParameters: connection.queryStringParameters,
      multiValueQueryStringParameters: connection.multiValueQueryStringParameters,
    }),
    requestContext: { ...requestContext(connection, '$connect', 'CONNECT'), ...(authorizer && { authorizer }) },
    isBase64Encoded: false,
  };
}

export function messageEvent(
  connection: ConnectionRequest,
  routeKey: string,
  body: string,
  authorizer: AuthorizerContext | undefined,
): { event: Record<string, unknown>; requestId: string } {
  const context: Record<string, unknown> = {
    ...requestContext(connection, routeKey, 'MESSAGE', { messageId: newApiGatewayId() }),
    ...(authorizer && { authorizer }),
  };
  return { event: { requestContext: context, body, isBase64Encoded: false }, requestId: context['requestId'] as string };
}

export function disconnectEvent(
  connection: ConnectionRequest,
  status: { code: number; reason: string },
  authorizer: AuthorizerContext | undefined,
): Record<string, unknown> {
  return {
    headers: { Host: connection.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' },
    multiValueHeaders: { Host: [connection.domainName], 'x-api-key': [''], 'X-Forwarded-For': [''], 'x-restapi': [''] },
    requestContext: {
      ...requestContext(connection, '$disconnect', 'DISCONNECT', { disconnect: status }),
      ...(authorizer && { authorizer }),
    },
    isBase64Encoded: false,
  };
}

/**
 * The route a frame takes: the value `$request.body.<path>` names in the JSON body, if a route has
 * that key; otherwise `$default`. Bodies that are not JSON objects go to `$default` too.
 */
export function selectRouteKey(expression: string, body: string, routeKeys: ReadonlySet<string>): string {
  const path = /^\$request\.body\.(.+)$/.exec(expression)?.[1]?.split('.');
  if (!path) return '$default';
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return '$default';
  }
  for (const key of path) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  const routeKey = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  return routeKey !== undefined && routeKeys.has(routeKey) && !routeKey.startsWith('$') ? routeKey : '$default';
}

/** `09/Feb/2026:10:00:00 +0000`, as API Gateway writes `requestTime`. */
export function apacheTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}
