/**
 * The API Gateway WebSocket event shapes ws-notify handles, as documented by AWS
 * (@types/aws-lambda has no `$connect` event with headers and authorizer context).
 */
export interface WebSocketRequestContext {
  connectionId: string;
  routeKey: string;
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT';
  connectedAt: number;
  stage: string;
  domainName: string;
  requestId: string;
  /** What the `$connect` authorizer put in its `context`, plus `principalId`. */
  authorizer?: Record<string, string | number | boolean | undefined>;
}

export interface WebSocketEvent {
  requestContext: WebSocketRequestContext;
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  body?: string;
  isBase64Encoded?: boolean;
}

/** A route's integration result; with a route response, `body` is sent to the client. */
export interface WebSocketResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface WebSocketAuthorizerEvent {
  type: 'REQUEST';
  methodArn: string;
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  requestContext: Omit<WebSocketRequestContext, 'authorizer'>;
}

export type { AuthorizerResult } from '../core/authorizer-result';
