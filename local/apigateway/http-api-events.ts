import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { PayloadFormatVersion } from '../cloudformation/app-model';
import type { SelectedRoute } from './http-api-routing';
import { apacheTime } from './websocket-events';

/** What API Gateway reads of a request to an HTTP API, before it builds any event. */
export interface HttpApiRequest {
  requestId: string;
  receivedAt: Date;
  method: string;
  /** As sent: percent-encoded, with a named stage's segment. */
  rawPath: string;
  rawQueryString: string;
  /** By lower-cased name, every value sent, plus the `x-forwarded-*` and trace headers API Gateway adds. */
  headers: Map<string, string[]>;
  body: Buffer;
  sourceIp: string;
  /** The host the client called: `127.0.0.1:<port>` locally. */
  domainName: string;
  protocol: string;
}

/** The request's place in the API, which every event of it names. */
export interface RequestScope extends SelectedRoute {
  apiId: string;
  accountId: string;
}

/** Who the route's authorization found the caller to be. */
export type CallerIdentity =
  | { type: 'lambda'; context: Record<string, unknown>; principalId?: unknown; integrationLatency: number }
  | { type: 'iam'; accessKey: string };

export function readHttpApiRequest(request: IncomingMessage, body: Buffer, requestId: string): HttpApiRequest {
  const receivedAt = new Date();
  const headers = new Map<string, string[]>();
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = (request.rawHeaders[index] as string).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), request.rawHeaders[index + 1] as string]);
  }
  const sourceIp = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  headers.set('x-forwarded-for', [[...(headers.get('x-forwarded-for') ?? []), sourceIp].join(', ')]);
  headers.set('x-forwarded-port', [String(request.socket.localPort)]);
  // The scheme the client really used, so that a URL built from it and `host` reaches the local API.
  headers.set('x-forwarded-proto', ['http']);
  headers.set('x-amzn-trace-id', [`Root=1-${Math.floor(receivedAt.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`]);
  const url = request.url ?? '/';
  const queryStart = url.indexOf('?');
  return {
    requestId,
    receivedAt,
    method: request.method ?? 'GET',
    rawPath: queryStart < 0 ? url : url.slice(0, queryStart),
    rawQueryString: queryStart < 0 ? '' : url.slice(queryStart + 1),
    headers,
    body,
    sourceIp,
    domainName: request.headers.host ?? '127.0.0.1',
    protocol: `HTTP/${request.httpVersion}`,
  };
}

/** Payload format 2.0 ("Create AWS Lambda proxy integrations for HTTP APIs"). */
export function proxyEventV2(request: HttpApiRequest, scope: RequestScope, caller: CallerIdentity | undefined): Record<string, unknown> {
  const { body, isBase64Encoded } = encodedBody(request);
  return {
    ...requestFieldsV2(request, scope),
    requestContext: requestContextV2(request, scope, caller),
    ...(body !== undefined && { body }),
    isBase64Encoded,
  };
}

/** Payload format 1.0, the REST API's proxy event with HTTP API's `version`. */
export function proxyEventV1(request: HttpApiRequest, scope: RequestScope, caller: CallerIdentity | undefined): Record<string, unknown> {
  const { body, isBase64Encoded } = encodedBody(request);
  return {
    ...requestFieldsV1(request, scope),
    requestContext: requestContextV1(request, scope, caller),
    body: body ?? null,
    isBase64Encoded,
  };
}

/** A Lambda REQUEST authorizer's event: the request (no body) and the route it would reach. */
export function authorizerEvent(
  version: PayloadFormatVersion,
  request: HttpApiRequest,
  scope: RequestScope,
  identitySource: string[],
  routeArn: string,
): Record<string, unknown> {
  if (version === '2.0') {
    return { ...requestFieldsV2(request, scope), type: 'REQUEST', routeArn, identitySource, requestContext: requestContextV2(request, scope, undefined) };
  }
  const joined = identitySource.join(',');
  return {
    ...requestFieldsV1(request, scope),
    type: 'REQUEST',
    methodArn: routeArn,
    identitySource: joined,
    authorizationToken: joined,
    requestContext: requestContextV1(request, scope, undefined),
  };
}

function requestFieldsV2(request: HttpApiRequest, scope: RequestScope): Record<string, unknown> {
  const cookies = (request.headers.get('cookie') ?? [])
    .flatMap((header) => header.split(';'))
    .map((cookie) => cookie.trim())
    .filter((cookie) => cookie !== '');
  const query = queryValues(request.rawQueryString);
  const variables = stageVariables(scope);
  return {
    version: '2.0',
    routeKey: scope.route.routeKey,
    rawPath: request.rawPath,
    rawQueryString: request.rawQueryString,
    ...(cookies.length > 0 && { cookies }),
    // Duplicates joined with commas; cookies move to `cookies`.
    headers: Object.fromEntries([...request.headers].filter(([name]) => name !== 'cookie').map(([name, values]) => [name, values.join(',')])),
    ...(query.size > 0 && { queryStringParameters: Object.fromEntries([...query].map(([name, values]) => [name, values.join(',')])) }),
    ...(scope.pathParameters && { pathParameters: scope.pathParameters }),
    ...(variables && { stageVariables: variables }),
  };
}

function requestContextV2(request: HttpApiRequest, scope: RequestScope, caller: CallerIdentity | undefined): Record<string, unknown> {
  return {
    accountId: scope.accountId,
    apiId: scope.apiId,
    ...(caller && { authorizer: caller.type === 'lambda' ? { lambda: caller.context } : { iam: iamIdentity(caller.accessKey, scope.accountId) } }),
    domainName: request.domainName,
    // The first label of the API's own host on AWS, which is its id.
    domainPrefix: scope.apiId,
    http: {
      method: request.method,
      path: request.rawPath,
      protocol: request.protocol,
      sourceIp: request.sourceIp,
      userAgent: request.headers.get('user-agent')?.join(',') ?? '',
    },
    requestId: request.requestId,
    routeKey: scope.route.routeKey,
    stage: scope.stage.name,
    time: apacheTime(request.receivedAt),
    timeEpoch: request.receivedAt.getTime(),
  };
}

function requestFieldsV1(request: HttpApiRequest, scope: RequestScope): Record<string, unknown> {
  const headers = [...request.headers];
  const query = queryValues(request.rawQueryString);
  const variables = stageVariables(scope);
  return {
    version: '1.0',
    resource: resourcePath(scope),
    path: decodePath(request.rawPath),
    httpMethod: request.method,
    // As in REST APIs: the last value of each, and every value in the multi-value twin.
    headers: Object.fromEntries(headers.map(([name, values]) => [name, values.at(-1)])),
    multiValueHeaders: Object.fromEntries(headers),
    queryStringParameters: query.size > 0 ? Object.fromEntries([...query].map(([name, values]) => [name, values.at(-1)])) : null,
    multiValueQueryStringParameters: query.size > 0 ? Object.fromEntries(query) : null,
    pathParameters: scope.pathParameters ?? null,
    stageVariables: variables ?? null,
  };
}

function requestContextV1(request: HttpApiRequest, scope: RequestScope, caller: CallerIdentity | undefined): Record<string, unknown> {
  return {
    accountId: scope.accountId,
    apiId: scope.apiId,
    ...(caller?.type === 'lambda' && {
      authorizer: {
        ...caller.context,
        ...(caller.principalId !== undefined && { principalId: caller.principalId }),
        integrationLatency: caller.integrationLatency,
      },
    }),
    domainName: request.domainName,
    domainPrefix: scope.apiId,
    extendedRequestId: request.requestId,
    httpMethod: request.method,
    identity: {
      accessKey: caller?.type === 'iam' ? caller.accessKey : null,
      accountId: caller?.type === 'iam' ? scope.accountId : null,
      caller: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: request.sourceIp,
      user: null,
      userAgent: request.headers.get('user-agent')?.join(',') ?? null,
      userArn: null,
    },
    path: decodePath(request.rawPath),
    protocol: request.protocol,
    requestId: request.requestId,
    requestTime: apacheTime(request.receivedAt),
    requestTimeEpoch: request.receivedAt.getTime(),
    resourceId: null,
    resourcePath: resourcePath(scope),
    stage: scope.stage.name,
  };
}

/** An IAM caller as far as it is known locally: the access key of its unverified signature. */
function iamIdentity(accessKey: string, accountId: string): Record<string, unknown> {
  return { accessKey, accountId, callerId: null, cognitoIdentity: null, principalOrgId: null, userArn: null, userId: null };
}

function resourcePath(scope: RequestScope): string {
  const { routeKey } = scope.route;
  return routeKey === '$default' ? '$default' : routeKey.slice(routeKey.indexOf(' ') + 1);
}

function stageVariables(scope: RequestScope): Record<string, string> | undefined {
  return Object.keys(scope.stage.variables).length > 0 ? scope.stage.variables : undefined;
}

function queryValues(rawQueryString: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(rawQueryString)) values.set(name, [...(values.get(name) ?? []), value]);
  return values;
}

function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return rawPath;
  }
}

/**
 * API Gateway does not list the content types it passes as text; these are the ones observed to
 * arrive unencoded. Any other body, and one without a content type, arrives base64-encoded.
 */
const TEXT_MEDIA_TYPES = ['application/json', 'application/xml', 'application/javascript'];

function encodedBody(request: HttpApiRequest): { body?: string; isBase64Encoded: boolean } {
  if (request.body.length === 0) return { isBase64Encoded: false };
  const mediaType = request.headers.get('content-type')?.[0]?.split(';')[0]?.trim().toLowerCase() ?? '';
  const text = mediaType.startsWith('text/') || TEXT_MEDIA_TYPES.includes(mediaType);
  return { body: request.body.toString(text ? 'utf8' : 'base64'), isBase64Encoded: !text };
}

/** What API Gateway sends the client. Headers are pairs, as `set-cookie` may repeat. */
export interface HttpApiResponse {
  statusCode: number;
  headers: [string, string][];
  body: Buffer;
}

/**
 * The response API Gateway makes of a Lambda proxy integration's result ("Lambda function
 * response format"), or undefined for a result it cannot read, which it answers with 500.
 */
export function httpApiResponse(version: PayloadFormatVersion, result: unknown): HttpApiResponse | undefined {
  return version === '2.0' ? responseV2(result) : responseV1(result);
}

function responseV2(result: unknown): HttpApiResponse | undefined {
  if (!isRecord(result) || !('statusCode' in result)) {
    // Without a statusCode, the result itself is a 200 JSON body (a string as it is).
    const body = typeof result === 'string' ? result : JSON.stringify(result);
    return { statusCode: 200, headers: [['content-type', 'application/json']], body: Buffer.from(body) };
  }
  const { cookies } = result;
  if (cookies !== undefined && !(Array.isArray(cookies) && cookies.every((cookie) => typeof cookie === 'string'))) return undefined;
  const response = structuredResponse(result, headerPairs(result['headers']));
  return response && { ...response, headers: [...response.headers, ...((cookies ?? []) as string[]).map((cookie): [string, string] => ['set-cookie', cookie])] };
}

function responseV1(result: unknown): HttpApiResponse | undefined {
  if (!isRecord(result)) return undefined;
  const multiValue = result['multiValueHeaders'];
  if (multiValue !== undefined && multiValue !== null && !isRecord(multiValue)) return undefined;
  const repeated = Object.entries(multiValue ?? {}).flatMap(([name, values]) =>
    (Array.isArray(values) ? values : [values]).map((value): [string, string] => [name, String(value)]),
  );
  const repeatedNames = new Set(repeated.map(([name]) => name.toLowerCase()));
  const single = headerPairs(result['headers'])?.filter(([name]) => !repeatedNames.has(name.toLowerCase()));
  return structuredResponse(result, single && [...single, ...repeated]);
}

function structuredResponse(result: Record<string, unknown>, headers: [string, string][] | undefined): HttpApiResponse | undefined {
  const { statusCode, body, isBase64Encoded } = result;
  if (headers === undefined || typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return undefined;
  if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
  return { statusCode, headers, body: Buffer.from(body ?? '', isBase64Encoded === true ? 'base64' : 'utf8') };
}

function headerPairs(headers: unknown): [string, string][] | undefined {
  if (headers === undefined || headers === null) return [];
  if (!isRecord(headers)) return undefined;
  return Object.entries(headers).map(([name, value]) => [name, String(value)]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
