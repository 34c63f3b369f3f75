import type { WebSocketAuthorizerEvent, WebSocketEvent } from '../../lambdas/transport/events';
import authorizerEvent from '../fixtures/authorizer-event.json';
import connectEvent from '../fixtures/connect-event.json';
import disconnectEvent from '../fixtures/disconnect-event.json';
import messageEvent from '../fixtures/message-event.json';

/** Real API Gateway event shapes (test/fixtures), for a given connection and user. */
export function connectEventFor(connectionId: string, userId: string, headers: Record<string, string> = {}): WebSocketEvent {
  const event = structuredClone(connectEvent) as WebSocketEvent;
  event.requestContext.connectionId = connectionId;
  event.requestContext.connectedAt = Date.now();
  event.requestContext.authorizer = { ...event.requestContext.authorizer, principalId: userId, userId };
  event.headers = { ...event.headers, ...headers };
  return event;
}

export function disconnectEventFor(connectionId: string): WebSocketEvent {
  const event = structuredClone(disconnectEvent) as WebSocketEvent;
  event.requestContext.connectionId = connectionId;
  return event;
}

export function messageEventWith(body: string, routeKey = 'ping'): WebSocketEvent {
  const event = structuredClone(messageEvent) as WebSocketEvent;
  event.requestContext.routeKey = routeKey;
  event.body = body;
  return event;
}

export function authorizerEventWith(
  request: { headers?: Record<string, string>; query?: Record<string, string> } = {},
): WebSocketAuthorizerEvent {
  const event = structuredClone(authorizerEvent) as WebSocketAuthorizerEvent;
  event.headers = { ...event.headers, ...request.headers };
  event.queryStringParameters = request.query ?? {};
  return event;
}
