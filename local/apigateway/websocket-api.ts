import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RouteDefinition, WebSocketApiDefinition } from '../cloudformation/app-model';
import { LOCAL_ACCOUNT_ID } from '../cloudformation/provision';
import { FunctionError } from '../lambda/functions';
import { authorizerResultBytes, integrationContext, policyDecision, WEBSOCKET_AUTHORIZER_RESULT_QUOTA_BYTES } from './authorizer-policy';
import type { ConnectionInfo, ConnectionRegistry, PostOutcome } from './management-api';
import {
  type AuthorizerContext,
  authorizerEvent,
  type ConnectionRequest,
  connectEvent,
  connectionRequest,
  disconnectEvent,
  messageEvent,
  headerValue,
  newApiGatewayId,
  selectRouteKey,
} from './websocket-events';

/** API Gateway's WebSocket limits: each frame, and each message (possibly several frames). */
export const MAX_FRAME_BYTES = 32 * 1024;
export const MAX_MESSAGE_BYTES = 128 * 1024;

export interface GatewayLimits {
  /** Closed after this long without a frame from the client (API Gateway: 10 minutes). */
  idleTimeoutMs: number;
  /** Closed this long after connecting, whatever happens (API Gateway: 2 hours). */
  maxConnectionMs: number;
}

/** The part of the running app the gateway serves: the API's routes, and a way to invoke its functions. */
export interface GatewayApp {
  api: WebSocketApiDefinition;
  region: string;
  invoke(functionName: string, event: unknown): Promise<unknown>;
}

interface CloseStatus {
  code: number;
  reason: string;
}

interface LiveConnection {
  request: ConnectionRequest;
  socket: WebSocket;
  authorizer: AuthorizerContext | undefined;
  lastActiveAt: number;
  /** Why the gateway itself closed the connection, if it did; `$disconnect` reports it. */
  closedBy?: CloseStatus;
  idleTimer?: NodeJS.Timeout;
  lifetimeTimer: NodeJS.Timeout;
}

// The codes and reasons API Gateway closes with (developer guide, "WebSocket API status codes").
const GOING_AWAY: CloseStatus = { code: 1001, reason: 'Going away' };
const TOO_BIG: CloseStatus = { code: 1009, reason: 'Message too big' };
const BINARY: CloseStatus = { code: 1003, reason: 'Binary frames are not supported' };
const DELETED: CloseStatus = { code: 1000, reason: 'Connection Closed Normally' };
const NO_STATUS: CloseStatus = { code: 1005, reason: 'Client-side close frame status not set' };

/**
 * The WebSocket side of API Gateway, run locally: authorizes and connects on the upgrade, routes
 * each frame on the route selection expression, answers through route responses, enforces API
 * Gateway's limits, and reports every close to `$disconnect`. It is also the management API's
 * registry of open connections.
 */
export class WebSocketGateway implements ConnectionRegistry {
  private readonly connections = new Map<string, LiveConnection>();
  private readonly selectedSubprotocols = new WeakMap<IncomingMessage, string>();
  private readonly disconnects = new Set<Promise<void>>();
  /** Closes and `$disconnect`s finished so far: a stop waits while this grows. */
  private progress = 0;
  private readonly server: WebSocketServer;

  constructor(
    private readonly app: () => GatewayApp,
    private readonly limits: GatewayLimits,
    private readonly log: (message: string, detail?: Record<string, unknown>) => void,
  ) {
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_BYTES,
      // API Gateway negotiates no extensions.
      perMessageDeflate: false,
      handleProtocols: (_offered, request) => this.selectedSubprotocols.get(request) ?? false,
    });
  }

  /** Whether the request is for this API's stage (a WebSocket upgrade, or not). */
  servesPath(pathname: string): boolean {
    const stage = `/${this.app().api.stageName}`;
    return pathname === stage || pathname === `${stage}/`;
  }

  /**
   * A plain HTTP request (no upgrade) for the stage or a path below it: API Gateway answers
   * `GET` there with 426 Upgrade Required. Returns false for any other request.
   */
  handlePlainRequest(request: IncomingMessage, response: ServerResponse): boolean {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    const stage = `/${this.app().api.stageName}`;
    if (request.method !== 'GET' || (pathname !== stage && !pathname.startsWith(`${stage}/`))) return false;
    const body = JSON.stringify({ message: 'Upgrade Required' });
    response.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket', connection: 'Upgrade' }).end(body);
    return true;
  }

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const { api, invoke } = this.app();
    const connection = connectionRequest(request, { connectionId: newApiGatewayId(), apiId: api.apiId, stage: api.stageName });
    const connectRoute = api.routes.get('$connect');
    let authorizer: AuthorizerContext | undefined;
    if (connectRoute?.authorizer) {
      const outcome = await this.authorize(connectRoute, connection);
      if (typeof outcome === 'number') return refuseUpgrade(socket, outcome);
      authorizer = outcome;
    }
    let subprotocol: string | undefined;
    if (connectRoute) {
      const result = await invoke(connectRoute.functionName, connectEvent(connection, authorizer)).catch((error: unknown) => {
        this.log('$connect integration failed', { connectionId: connection.connectionId, error: String(error) });
        // API Gateway answers a failed Lambda integration with 502 (a failed authorizer with 500).
        return { statusCode: 502 };
      });
      const status = statusCodeOf(result);
      if (status < 200 || status > 299) return refuseUpgrade(socket, status);
      subprotocol = headerOf(result, 'sec-websocket-protocol');
    }
    const messageAuthorizer = authorizer && withoutKey(authorizer, 'integrationLatency');
    if (socket.destroyed) {
      // The client left while $connect ran: API Gateway still reports the disconnect.
      this.track(connection, NO_STATUS, messageAuthorizer);
      return;
    }
    if (subprotocol) this.selectedSubprotocols.set(request, subprotocol);
    this.server.handleUpgrade(request, socket, head, (webSocket) => this.open(webSocket, connection, messageAuthorizer));
  }

  post(connectionId: string, data: Buffer): PostOutcome {
    const connection = this.openConnection(connectionId);
    if (!connection) return 'gone';
    connection.socket.send(data.toString('utf8'));
    // API Gateway's idle timer counts traffic either way: a server's post keeps a connection open.
    this.resetIdleTimer(connection);
    return 'sent';
  }

  info(connectionId: string): ConnectionInfo | undefined {
    const connection = this.openConnection(connectionId);
    if (!connection) return undefined;
    return {
      connectedAt: new Date(connection.request.connectedAt),
      lastActiveAt: new Date(connection.lastActiveAt),
      identity: { sourceIp: connection.request.sourceIp, ...(connection.request.userAgent && { userAgent: connection.request.userAgent }) },
    };
  }

  close(connectionId: string): boolean {
    const connection = this.openConnection(connectionId);
    if (!connection) return false;
    this.closeWith(connection, DELETED);
    return true;
  }

  /**
   * Cuts connections off as a network failure would (fault injection): the TCP socket is destroyed
   * without a close frame, and `$disconnect` runs with 1006. Returns the ids of those it cut off.
   */
  drop(which: { connectionIds?: string[]; principalIds?: string[] }): string[] {
    return [...this.connections.entries()]
      .filter(([connectionId, connection]) =>
        which.connectionIds?.includes(connectionId) || which.principalIds?.includes(String(connection.authorizer?.['principalId'])),
      )
      .map(([connectionId, connection]) => {
        connection.socket.terminate();
        return connectionId;
      });
  }

  /**
   * Closes every connection as API Gateway does on a deployment's end, and waits for their
   * `$disconnect`s as long as they keep finishing: hundreds of them queue for a few execution
   * environments and take a while, so only `stallMs` without one closing or finishing ends the
   * wait (a `$disconnect` that hangs does not hold a stop for ever).
   */
  async closeAll(stallMs = 5_000): Promise<void> {
    for (const connection of this.connections.values()) this.closeWith(connection, GOING_AWAY);
    const pending = () => this.connections.size + this.disconnects.size;
    if (pending() > 0) this.log(`closing ${this.connections.size} connections and waiting for their $disconnects…`);
    let progressSeen = this.progress;
    let stalledSince = Date.now();
    while (pending() > 0 && Date.now() - stalledSince < stallMs) {
      await Promise.race([...this.disconnects, new Promise((resolve) => setTimeout(resolve, 50))]);
      if (this.progress !== progressSeen) [progressSeen, stalledSince] = [this.progress, Date.now()];
    }
    if (pending() > 0) this.log(`gave up on ${pending()} connections and $disconnects after ${stallMs} ms without progress`);
    for (const connection of this.connections.values()) connection.socket.terminate();
    this.server.close();
  }

  /**
   * The connection, unless it is closing: once the client's close frame arrived or the gateway
   * began closing it, API Gateway's management API treats it as gone (410) although its TCP
   * connection may live on until the close handshake ends.
   */
  private openConnection(connectionId: string): LiveConnection | undefined {
    const connection = this.connections.get(connectionId);
    if (!connection || connection.closedBy || connection.socket.readyState !== connection.socket.OPEN) return undefined;
    return connection;
  }

  /** The authorizer's context, or the HTTP status the upgrade is refused with. */
  private async authorize(route: RouteDefinition, connection: ConnectionRequest): Promise<AuthorizerContext | number> {
    const authorizer = route.authorizer!;
    // API Gateway refuses a request missing a listed identity source without calling the authorizer.
    if (!authorizer.identitySources.every((source) => hasIdentitySource(connection, source))) return 401;
    const started = Date.now();
    const event = authorizerEvent(connection, this.app().region, LOCAL_ACCOUNT_ID);
    let result: unknown;
    try {
      result = await this.app().invoke(authorizer.functionName, event);
    } catch (error) {
      if (error instanceof FunctionError && error.errorMessage === 'Unauthorized') return 401;
      this.log('authorizer failed', { connectionId: connection.connectionId, error: String(error) });
      return 500;
    }
    const bytes = authorizerResultBytes(result);
    if (bytes > WEBSOCKET_AUTHORIZER_RESULT_QUOTA_BYTES) {
      this.log(`authorizer result over API Gateway's ${WEBSOCKET_AUTHORIZER_RESULT_QUOTA_BYTES}-byte quota`, { connectionId: connection.connectionId, bytes });
      return 500;
    }
    const decision = policyDecision(result, event['methodArn'] as string);
    if (decision !== 'Allow') {
      if (decision === 'malformed') this.log('authorizer returned a malformed policy', { connectionId: connection.connectionId });
      return decision === 'malformed' ? 500 : 403;
    }
    const { principalId, context } = result as { principalId: unknown; context?: unknown };
    const passedOn = integrationContext(context);
    if (passedOn === 'malformed') {
      this.log('authorizer context values must be strings, numbers or booleans', { connectionId: connection.connectionId });
      return 500;
    }
    return { ...passedOn, principalId, integrationLatency: Date.now() - started };
  }

  private open(socket: WebSocket, request: ConnectionRequest, authorizer: AuthorizerContext | undefined): void {
    const connection: LiveConnection = {
      request,
      socket,
      authorizer,
      lastActiveAt: Date.now(),
      lifetimeTimer: setTimeout(() => this.closeWith(connection, GOING_AWAY), this.limits.maxConnectionMs),
    };
    this.connections.set(request.connectionId, connection);
    this.resetIdleTimer(connection);
    enforceFrameLimit(socket, MAX_FRAME_BYTES);
    socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') connection.closedBy ??= TOO_BIG;
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (connection.closedBy || socket.readyState !== socket.OPEN) return;
      if (isBinary) return this.closeWith(connection, BINARY);
      connection.lastActiveAt = Date.now();
      this.resetIdleTimer(connection);
      void this.route(connection, data.toString('utf8'));
    });
    socket.on('close', (code: number, reason: Buffer) => {
      clearTimeout(connection.idleTimer);
      clearTimeout(connection.lifetimeTimer);
      this.connections.delete(request.connectionId);
      this.progress += 1;
      const status = connection.closedBy ?? (code === 1005 ? NO_STATUS : { code, reason: reason.toString() });
      this.track(request, status, authorizer);
    });
  }

  private async route(connection: LiveConnection, body: string): Promise<void> {
    const { api, invoke } = this.app();
    const routeKey = selectRouteKey(api.routeSelectionExpression, body, new Set(api.routes.keys()));
    const route = api.routes.get(routeKey);
    const { event, requestId } = messageEvent(connection.request, routeKey, body, connection.authorizer);
    const { connectionId } = connection.request;
    if (!route) return this.send(connection, errorFrame('Forbidden', connectionId, requestId));
    try {
      const result = await invoke(route.functionName, event);
      if (!route.hasRouteResponse) return;
      const reply = typeof result === 'string' ? result : (result as { body?: unknown } | null)?.body;
      if (reply !== undefined && reply !== null) this.send(connection, typeof reply === 'string' ? reply : JSON.stringify(reply));
    } catch (error) {
      this.log(`${routeKey} integration failed`, { connectionId, error: String(error) });
      this.send(connection, errorFrame('Internal server error', connectionId, requestId));
    }
  }

  private send(connection: LiveConnection, frame: string): void {
    if (connection.socket.readyState === connection.socket.OPEN) connection.socket.send(frame);
  }

  private closeWith(connection: LiveConnection, status: CloseStatus): void {
    if (connection.closedBy) return;
    connection.closedBy = status;
    connection.socket.close(status.code, status.reason);
    // A client that never answers the close frame is cut off, as API Gateway would.
    setTimeout(() => connection.socket.terminate(), 2_000).unref();
  }

  private resetIdleTimer(connection: LiveConnection): void {
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => this.closeWith(connection, GOING_AWAY), this.limits.idleTimeoutMs);
  }

  /** Runs `$disconnect` (if the API has one), remembering it so a stop can wait for it. */
  private track(request: ConnectionRequest, status: CloseStatus, authorizer: AuthorizerContext | undefined): void {
    const { api, invoke } = this.app();
    const route = api.routes.get('$disconnect');
    if (!route) return;
    const disconnect = invoke(route.functionName, disconnectEvent(request, status, authorizer))
      .then(() => undefined)
      .catch((error: unknown) => this.log('$disconnect integration failed', { connectionId: request.connectionId, error: String(error) }))
      .finally(() => {
        this.disconnects.delete(disconnect);
        this.progress += 1;
      });
    this.disconnects.add(disconnect);
  }
}

/**
 * ws limits whole messages (maxPayload) but not single frames, and API Gateway limits both. The
 * check hooks the point where ws has read a frame's length and fails the frame through ws's own
 * error path, which closes with 1009 as for an oversize message.
 */
function enforceFrameLimit(socket: WebSocket, maxFrameBytes: number): void {
  interface FrameReceiver {
    _opcode: number;
    _payloadLength: number;
    haveLength(callback: (error?: Error) => void): void;
    createError(type: typeof RangeError, message: string, prefix: boolean, statusCode: number, errorCode: string): Error;
  }
  const receiver = (socket as unknown as { _receiver?: FrameReceiver })._receiver;
  if (typeof receiver?.haveLength !== 'function' || typeof receiver.createError !== 'function') {
    throw new Error('this version of ws does not expose its frame reader; the 32 KB frame limit cannot be enforced');
  }
  const haveLength = receiver.haveLength.bind(receiver);
  receiver.haveLength = (callback) => {
    if (receiver._opcode < 0x08 && receiver._payloadLength > maxFrameBytes) {
      return callback(
        receiver.createError(RangeError, `Frame of ${receiver._payloadLength} bytes exceeds ${maxFrameBytes}`, false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'),
      );
    }
    return haveLength(callback);
  };
}

/** `route.request.header.<name>` or `route.request.querystring.<name>` must be present and non-empty. */
function hasIdentitySource(connection: ConnectionRequest, source: string): boolean {
  const header = /^route\.request\.header\.(.+)$/i.exec(source)?.[1];
  if (header) return (headerValue(connection, header) ?? '') !== '';
  const query = /^route\.request\.querystring\.(.+)$/i.exec(source)?.[1];
  if (query) return (connection.queryStringParameters?.[query] ?? '') !== '';
  return true;
}

/**
 * API Gateway's error frame, byte for byte as it sends it (a space after the first colon only):
 * `{"message": "Internal server error", "connectionId":"…", "requestId":"…"}`.
 */
function errorFrame(message: string, connectionId: string, requestId: string): string {
  return `{"message": ${JSON.stringify(message)}, "connectionId":${JSON.stringify(connectionId)}, "requestId":${JSON.stringify(requestId)}}`;
}

function statusCodeOf(result: unknown): number {
  const status = (result as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : 200;
}

function headerOf(result: unknown, name: string): string | undefined {
  const headers = (result as { headers?: Record<string, unknown> } | null)?.headers ?? {};
  const value = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return typeof value === 'string' ? value : undefined;
}

function withoutKey(record: AuthorizerContext, key: string): AuthorizerContext {
  return Object.fromEntries(Object.entries(record).filter(([name]) => name !== key));
}

function refuseUpgrade(socket: Duplex, status: number): void {
  const messages: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 502: 'Internal server error' };
  const body = JSON.stringify({ message: messages[status] ?? STATUS_CODES[status] ?? 'Error' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
