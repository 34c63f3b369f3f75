import * as z from 'zod/mini';
import { InvalidMessageError, type NotifyUserMessage } from './messages';
import type { CloudEvent } from './topics';

/** API Gateway refuses to send a message over 128 KB to a client. */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** The actions a client may send; each is a route of the WebSocket API. */
export const CLIENT_ACTIONS = ['ping', 'authenticate', 'subscribe', 'unsubscribe', 'publish'] as const;

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_frame'
  | 'unknown_action'
  | 'invalid_credential'
  | 'jwt_not_enabled'
  | 'user_mismatch'
  | 'credential_expired'
  | 'credential_revoked'
  | 'forbidden_topic'
  | 'invalid_subscription'
  | 'too_many_subscriptions'
  | 'invalid_event';

export interface Notification {
  id: string;
  time: string;
  data: NotifyUserMessage['data'];
}

/** A client may tag a frame with an id; replies echo it so the client can match them. */
const FrameId = z.union([z.string().check(z.maxLength(128)), z.number()]);
const ClientFrame = z.object({ action: z.string(), id: z.optional(FrameId) });

export function notificationFrame({ id, time, data }: Notification): string {
  return deliverable('notification', JSON.stringify({ type: 'notification', id, time, data }));
}

/** An event of a topic the connection subscribed to. */
export function eventFrame(topic: string, event: CloudEvent): string {
  return deliverable('event', JSON.stringify({ type: 'event', topic, event }));
}

function deliverable(kind: string, frame: string): string {
  if (Buffer.byteLength(frame) > MAX_MESSAGE_BYTES) {
    throw new InvalidMessageError(
      'payload_too_large',
      `${kind} frame is ${Buffer.byteLength(frame)} bytes; API Gateway delivers at most ${MAX_MESSAGE_BYTES}`,
    );
  }
  return frame;
}

export function pongFrame(body: string | undefined, now: Date): string {
  return JSON.stringify({ type: 'pong', time: now.toISOString(), ...idOf(parseJson(body)) });
}

/** The reply to a refresh: the new credential holds until `expiresAt`. */
export function authenticatedFrame(expiresAt: number, frame: unknown): string {
  return JSON.stringify({ type: 'authenticated', expiresAt: new Date(expiresAt * 1000).toISOString(), ...idOf(frame) });
}

export function errorFrame(code: ErrorCode, message: string, frame?: unknown): string {
  return JSON.stringify({ type: 'error', code, message, ...idOf(frame) });
}

/** The reply to a frame that matched no route: says whether it was not JSON, not a frame, or an unknown action. */
export function unroutedFrameError(body: string | undefined): string {
  const json = parseJson(body);
  if (json === undefined) return errorFrame('invalid_json', 'frame is not valid JSON');
  const frame = ClientFrame.safeParse(json);
  if (!frame.success) {
    return errorFrame('invalid_frame', 'a frame is a JSON object with a string "action"', json);
  }
  const action = frame.data.action.slice(0, 64);
  return errorFrame('unknown_action', `unknown action "${action}"; supported: ${CLIENT_ACTIONS.join(', ')}`, json);
}

export function parseJson(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
}

/** The client's frame id, to echo in the reply. */
export function idOf(frame: unknown): { id?: string | number } {
  if (typeof frame !== 'object' || frame === null || !('id' in frame)) return {};
  const id = FrameId.safeParse(frame.id);
  return id.success ? { id: id.data } : {};
}
