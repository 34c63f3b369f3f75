import { unroutedFrameError } from '../core/frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';

/** Every frame no route matched: not JSON, no `action`, or an action ws-notify does not know. */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  body: unroutedFrameError(event.body),
});
