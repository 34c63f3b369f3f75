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
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
}

export type AuthorizerContext = Record<string, unknown>;

/** API Gateway's ids look like `L0SM9cOFvHcCIhw=`: 10 random bytes in base64. */
export function newApiGatewayId(): string {
  return randomBytes(10).toString('base64');
}

/** What API Gateway learns from an upgrade request: headers as the client cased them, the query string, the caller. */
export function connectionRequest(
  request: IncomingMessage,
  ids: { connectionId: string; apiId: string; stage: string },
): ConnectionRequest {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    const value = request.rawHeaders[i + 1] as string;
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  const query = [...url.searchParams];
  const sourceIp = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  return {
    ...ids,
    connectedAt: Date.now(),
    domainName: request.headers.host ?? 'localhost',
    sourceIp,
    ...(request.headers['user-agent'] && { userAgent: request.headers['user-agent'] }),
    headers: { ...headers, 'X-Forwarded-For': sourceIp, 'X-Forwarded-Proto': 'https' },
    multiValueHeaders: { ...multiValueHeaders, 'X-Forwarded-For': [sourceIp], 'X-Forwarded-Proto': ['https'] },
    ...(query.length > 0 && {
      queryStringParameters: Object.fromEntries(query),
      multiValueQueryStringParameters: query.reduce<Record<string, string[]>>((all, [key, value]) => {
        (all[key] ??= []).push(value);
        return all;
      }, {}),
    }),
  };
}

function requestContext(
  connection: ConnectionRequest,
  routeKey: string,
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
): Record<string, unknown> {
  const now = new Date();
  const requestId = newApiGatewayId();
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: apacheTime(now),
    messageDirection: 'IN',
    stage: connection.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: now.getTime(),
    identity: { sourceIp: connection.sourceIp, ...(connection.userAgent && { userAgent: connection.userAgent }) },
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
    headers: connection.headers,
    multiValueHeaders: connection.multiValueHeaders,
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
    headers: connection.headers,
    multiValueHeaders: connection.multiValueHeaders,
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
    ...requestContext(connection, routeKey, 'MESSAGE'),
    messageId: newApiGatewayId(),
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
      ...requestContext(connection, '$disconnect', 'DISCONNECT'),
      disconnectStatusCode: status.code,
      disconnectReason: status.reason,
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
