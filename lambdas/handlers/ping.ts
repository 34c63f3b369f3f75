import { pongFrame } from '../core/frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';

/** Answered through the route response, so a pong costs no management-API call. */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  body: pongFrame(event.body, new Date()),
});
