import type { IncomingMessage, ServerResponse } from 'node:http';
import { MANAGEMENT_API_ERRORS, type ManagementApiFaultStatus } from '../dev-endpoints/faults';
import { sigV4AccessKeyOf } from '../http/browser-guard';

/** What the management API knows of a connection (GetConnection). */
export interface ConnectionInfo {
  connectedAt: Date;
  lastActiveAt: Date;
  identity: { sourceIp: string; userAgent?: string };
}

export type PostOutcome = 'sent' | 'gone' | 'throttled';

/** The open connections the management API acts on: the local gateway's, or a test's. */
export interface ConnectionRegistry {
  post(connectionId: string, data: Buffer): PostOutcome | Promise<PostOutcome>;
  info(connectionId: string): ConnectionInfo | undefined;
  /** Closes the connection; false if it was not open. */
  close(connectionId: string): boolean;
}

/** API Gateway refuses PostToConnection data over 128 KB. */
const MAX_POST_BYTES = 128 * 1024;
const PATH = /^\/([^/]+)\/@connections\/([^/?]+)\/?(?:\?.*)?$/;

/**
 * Serves `POST|GET|DELETE /{stage}/@connections/{connectionId}` with the wire behaviour of the
 * API Gateway management API: errors carry `x-amzn-ErrorType`, which is how SDK v3 picks the
 * exception class (`GoneException` for 410). An unsigned request is refused as AWS refuses it (403
 * `MissingAuthenticationTokenException`); the signature itself is not checked. Returns false for a
 * request outside that path.
 */
export function handleManagementApiRequest(
  registry: ConnectionRegistry,
  stage: string,
  request: IncomingMessage,
  response: ServerResponse,
  /** Injected faults (`--faults`): the status to fail a call with, or undefined. */
  faultFor?: (method: string, connectionId: string) => ManagementApiFaultStatus | undefined,
): boolean {
  const match = PATH.exec(request.url ?? '');
  if (!match || match[1] !== stage) return false;
  const connectionId = decodeURIComponent(match[2] as string);
  if (!sigV4AccessKeyOf(request.headers.authorization)) {
    sendError(response, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    return true;
  }
  const fault = faultFor?.(request.method ?? '', connectionId);
  if (fault !== undefined) {
    const { errorType, message } = MANAGEMENT_API_ERRORS[fault];
    // Read to its end first, so that the client's keep-alive socket stays usable.
    request.resume().on('end', () => sendError(response, fault, errorType, message));
    return true;
  }

  switch (request.method) {
    case 'POST': {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const data = Buffer.concat(chunks);
        if (data.length > MAX_POST_BYTES) {
          return sendError(response, 413, 'PayloadTooLargeException', `Message of ${data.length} bytes exceeds 128 KB`);
        }
        void Promise.resolve(registry.post(connectionId, data)).then((outcome) => {
          if (outcome === 'gone') return sendError(response, 410, 'GoneException', `Connection ${connectionId} is gone`);
          if (outcome === 'throttled') return sendError(response, 429, 'LimitExceededException', 'Rate exceeded');
          response.writeHead(200).end();
        });
      });
      return true;
    }
    case 'GET': {
      const info = registry.info(connectionId);
      if (!info) {
        sendError(response, 410, 'GoneException', `Connection ${connectionId} is gone`);
        return true;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          connectedAt: info.connectedAt.toISOString(),
          lastActiveAt: info.lastActiveAt.toISOString(),
          identity: info.identity,
        }),
      );
      return true;
    }
    case 'DELETE':
      if (registry.close(connectionId)) response.writeHead(204).end();
      else sendError(response, 410, 'GoneException', `Connection ${connectionId} is gone`);
      return true;
    default:
      sendError(response, 405, 'MethodNotAllowedException', `${request.method} is not supported`);
      return true;
  }
}

function sendError(response: ServerResponse, status: number, errorType: string, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': errorType })
    .end(JSON.stringify({ message }));
}
