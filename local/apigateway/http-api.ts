import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpApiDefinition, HttpAuthorizerDefinition } from '../cloudformation/app-model';
import { LOCAL_ACCOUNT_ID } from '../cloudformation/provision';
import { foreignHostOf, sigV4AccessKeyOf } from '../http/browser-guard';
import { readBodyWithin } from '../http/request-body';
import { FunctionError } from '../lambda/functions';
import { policyDecision } from './authorizer-policy';
import {
  authorizerEvent,
  type CallerIdentity,
  type HttpApiRequest,
  httpApiResponse,
  proxyEventV1,
  proxyEventV2,
  readHttpApiRequest,
  type RequestScope,
} from './http-api-events';
import { selectRoute } from './http-api-routing';
import { newApiGatewayId } from './websocket-events';

/** API Gateway's limit on an HTTP API request's payload. */
export const MAX_HTTP_API_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** The part of the running app one HTTP API's listener serves. */
export interface HttpApiApp {
  api: HttpApiDefinition;
  region: string;
  invoke(functionName: string, event: unknown): Promise<unknown>;
}

/** Headers of a function's response that describe its framing here, which Node sets itself. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

/**
 * The app's HTTP APIs, each on a loopback port of its own. On AWS each API has a host of its own
 * and serves its `$default` stage at the root, so a port per API keeps its URLs, `rawPath` and
 * routes as they are there, and nothing an API serves can clash with the WebSocket stage, the
 * management API or the runtime's own paths. An API keeps its port across reloads, so the URLs in
 * functions' environments stay valid.
 */
export class HttpApiGateway {
  private readonly listeners = new Map<string, { server: Server; origin: URL }>();

  constructor(
    private readonly app: (logicalId: string) => HttpApiApp | undefined,
    private readonly log: (message: string, detail?: Record<string, unknown>) => void,
  ) {}

  /** Each API's origin by logical id, listening on a free port for any API not served yet. */
  async serve(logicalIds: readonly string[]): Promise<Map<string, URL>> {
    const origins = new Map<string, URL>();
    for (const logicalId of logicalIds) {
      let listener = this.listeners.get(logicalId);
      if (!listener) {
        const server = createServer((request, response) => {
          this.handle(logicalId, request, response).catch((error: unknown) => {
            this.log(`HTTP API ${logicalId} failed`, { error: String(error) });
            if (!response.headersSent) sendMessage(response, 500, 'Internal Server Error', newApiGatewayId());
          });
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', resolve);
        });
        listener = { server, origin: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`) };
        this.listeners.set(logicalId, listener);
      }
      origins.set(logicalId, listener.origin);
    }
    return origins;
  }

  /** Stops serving every API but those in `keep` (the ones the running app still has). */
  async close(keep: readonly string[] = []): Promise<void> {
    const closing = [...this.listeners].filter(([logicalId]) => !keep.includes(logicalId));
    await Promise.all(
      closing.map(([logicalId, { server }]) => {
        this.listeners.delete(logicalId);
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }

  private async handle(logicalId: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = newApiGatewayId();
    const refuse = (status: number, message: string) => sendMessage(response, status, message, requestId);
    // No Origin check: on AWS a page of any origin reaches the API too (CORS decides only what it may
    // read). A name other than loopback's is DNS rebinding, which makes the page same-origin here.
    const foreignHost = foreignHostOf(request);
    if (foreignHost) return refuse(403, foreignHost);
    const app = this.app(logicalId);
    // Between a reload opening a new API's port and serving the app that has it.
    if (!app) return refuse(503, 'Service Unavailable');
    const body = await readBodyWithin(request, MAX_HTTP_API_PAYLOAD_BYTES);
    if (!body) return refuse(413, 'Request Entity Too Large');
    const httpRequest = readHttpApiRequest(request, body, requestId);
    const selected = selectRoute(app.api, httpRequest.method, httpRequest.rawPath);
    if (!selected) return refuse(404, 'Not Found');
    const scope: RequestScope = { ...selected, apiId: app.api.apiId, accountId: LOCAL_ACCOUNT_ID };
    const caller = await this.authorize(app, httpRequest, scope);
    if (typeof caller === 'number') return refuse(caller, caller === 401 ? 'Unauthorized' : caller === 403 ? 'Forbidden' : 'Internal Server Error');
    const { route } = selected;
    const event = route.payloadFormatVersion === '2.0' ? proxyEventV2(httpRequest, scope, caller) : proxyEventV1(httpRequest, scope, caller);
    let outcome: { value: unknown } | 'timed out';
    try {
      outcome = await within(app.invoke(route.functionName, event), route.integrationTimeoutMs);
    } catch (error) {
      this.log(`${route.routeKey} integration failed`, { requestId, error: String(error) });
      return refuse(500, 'Internal Server Error');
    }
    if (outcome === 'timed out') {
      this.log(`${route.routeKey} integration timed out after ${route.integrationTimeoutMs} ms`, { requestId });
      return refuse(503, 'Service Unavailable');
    }
    const reply = httpApiResponse(route.payloadFormatVersion, outcome.value);
    if (!reply) {
      this.log(`${route.routeKey} integration returned a malformed response`, { requestId });
      return refuse(500, 'Internal Server Error');
    }
    const headers = reply.headers.filter(([name]) => !FRAMING_HEADERS.has(name.toLowerCase()));
    response
      .writeHead(reply.statusCode, [...headers.flat(), 'content-length', String(reply.body.length), 'apigw-requestid', requestId])
      .end(reply.body);
  }

  /** Who the caller is (undefined on an open route), or the status API Gateway refuses the request with. */
  private async authorize(app: HttpApiApp, request: HttpApiRequest, scope: RequestScope): Promise<CallerIdentity | undefined | number> {
    const { authorization } = scope.route;
    switch (authorization.type) {
      case 'NONE':
        return undefined;
      case 'AWS_IAM': {
        // There is no IAM locally: a SigV4-signed request is taken at its word, its signature unchecked;
        // anything else is refused as AWS refuses an unsigned request.
        const accessKey = sigV4AccessKeyOf(request.headers.get('authorization')?.[0]);
        return accessKey ? { type: 'iam', accessKey } : 403;
      }
      case 'CUSTOM':
        return this.authorizeWithLambda(app, request, scope, authorization.authorizer);
    }
  }

  private async authorizeWithLambda(
    app: HttpApiApp,
    request: HttpApiRequest,
    scope: RequestScope,
    authorizer: HttpAuthorizerDefinition,
  ): Promise<CallerIdentity | number> {
    const identitySource = authorizer.identitySources.map((source) => identityValue(source, request, scope));
    // API Gateway refuses a request missing a listed identity source without calling the authorizer.
    if (!identitySource.every((value): value is string => value !== undefined && value !== '')) return 401;
    const routeArn = `arn:aws:execute-api:${app.region}:${scope.accountId}:${scope.apiId}/${scope.stage.name}/${request.method}${scope.routePath}`;
    const event = authorizerEvent(authorizer.payloadFormatVersion, request, scope, identitySource, routeArn);
    const started = Date.now();
    let result: unknown;
    try {
      result = await app.invoke(authorizer.functionName, event);
    } catch (error) {
      // As REST and WebSocket APIs do: an error whose message is `Unauthorized` is a 401, any other a 500.
      if (error instanceof FunctionError && error.errorMessage === 'Unauthorized') return 401;
      this.log('authorizer failed', { requestId: request.requestId, error: String(error) });
      return 500;
    }
    const response = (result ?? {}) as { isAuthorized?: unknown; principalId?: unknown; context?: unknown };
    const context = typeof response.context === 'object' && response.context !== null ? (response.context as Record<string, unknown>) : {};
    const integrationLatency = Date.now() - started;
    if (authorizer.simpleResponses) {
      if (typeof response.isAuthorized !== 'boolean') {
        this.log('authorizer returned a malformed simple response', { requestId: request.requestId });
        return 500;
      }
      return response.isAuthorized ? { type: 'lambda', context, integrationLatency } : 403;
    }
    const decision = policyDecision(result, routeArn);
    if (decision === 'malformed') this.log('authorizer returned a malformed policy', { requestId: request.requestId });
    if (decision !== 'Allow') return decision === 'malformed' ? 500 : 403;
    return { type: 'lambda', context, principalId: response.principalId, integrationLatency };
  }
}

/** The value of an identity source (`$request.header.…`, `$request.querystring.…`, `$stageVariables.…`, `$context.…`). */
function identityValue(source: string, request: HttpApiRequest, scope: RequestScope): string | undefined {
  const [, kind, name = ''] = /^\$(request\.header|request\.querystring|stageVariables|context)\.(.+)$/.exec(source) ?? [];
  switch (kind) {
    case 'request.header':
      // Header names are case-insensitive, query string names case-sensitive.
      return request.headers.get(name.toLowerCase())?.join(',');
    case 'request.querystring':
      return new URLSearchParams(request.rawQueryString).getAll(name).join(',');
    case 'stageVariables':
      return scope.stage.variables[name];
    case 'context': {
      const variables: Record<string, string> = {
        routeKey: scope.route.routeKey,
        stage: scope.stage.name,
        requestId: request.requestId,
        httpMethod: request.method,
        path: request.rawPath,
        'identity.sourceIp': request.sourceIp,
      };
      return variables[name];
    }
    default:
      return undefined;
  }
}

/** The integration's outcome, or `timed out` once API Gateway stops waiting (the function runs on, as on AWS). */
function within(invocation: Promise<unknown>, timeoutMs: number): Promise<{ value: unknown } | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), timeoutMs);
  });
  return Promise.race([invocation.then((value) => ({ value })), timeout]).finally(() => clearTimeout(timer));
}

function sendMessage(response: ServerResponse, status: number, message: string, requestId: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'apigw-requestid': requestId }).end(JSON.stringify({ message }));
}
