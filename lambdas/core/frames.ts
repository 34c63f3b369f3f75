import * as z from 'zod/mini';
import { nestsTooDeep, tooDeepMessage } from './json';
import { InvalidMessageError, type NotifyUserMessage } from './messages';
import type { AuthenticatedFrame, ErrorCode, ErrorFrame, EventFrame, NotificationFrame, PongFrame, StreamPosition } from '../../client/src/protocol';
import type { CloudEvent } from './topics';

/** API Gateway refuses to send a message over 128 KB to a client. */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** The actions a client may send; each is a route of the WebSocket API. */
export const CLIENT_ACTIONS = ['ping', 'authenticate', 'subscribe', 'unsubscribe', 'publish', 'resume', 'history', 'ack'] as const;

// The frames' types are the client package's: the SDK reads what these functions build.
export type { ErrorCode } from '../../client/src/protocol';

export interface Notification {
  id: string;
  time: string;
  data: NotifyUserMessage['data'];
}

/** A client may tag a frame with an id; replies echo it so the client can match them. */
const FrameId = z.union([z.string().check(z.maxLength(128)), z.number()]);
const ClientFrame = z.object({ action: z.string(), id: z.optional(FrameId) });

/**
 * Where a delivered frame is in its stream: `user`, or `topic:<name>`. Frames of a stack without
 * history, and NotifyConnection sends, carry none.
 */
export interface FramePosition {
  stream: string;
  seq: number;
  epoch: string;
}

/** A frame's position fields, and `replay: true` on a frame sent again by `resume` or `subscribe` from a position. */
function positionFields(position: FramePosition | undefined, replay: boolean): StreamPosition {
  if (position === undefined) return {};
  return { stream: position.stream, seq: position.seq, epoch: position.epoch, ...(replay && { replay: true }) };
}

export function notificationFrame({ id, time, data }: Notification, position?: FramePosition, replay = false): string {
  return deliverable('notification', { type: 'notification', id, time, data, ...positionFields(position, replay) } satisfies NotificationFrame);
}

/** An event of a topic the connection subscribed to. */
export function eventFrame(topic: string, event: CloudEvent, position?: FramePosition, replay = false): string {
  return deliverable('event', { type: 'event', topic, event, ...positionFields(position, replay) } satisfies EventFrame);
}

/** The user's own stream, as its connections name it. */
export const USER_STREAM = 'user';

/** A topic's stream, as its subscribers name it. */
export function topicStream(topic: string): string {
  return `topic:${topic}`;
}

function deliverable(kind: string, content: object): string {
  // Before JSON.stringify, which recurses: no client is sent a frame nested deeper than it may send one.
  if (nestsTooDeep(content)) throw new InvalidMessageError('too_deep', tooDeepMessage(`the ${kind} frame`));
  const frame = JSON.stringify(content);
  if (Buffer.byteLength(frame) > MAX_MESSAGE_BYTES) {
    throw new InvalidMessageError(
      'payload_too_large',
      `${kind} frame is ${Buffer.byteLength(frame)} bytes; API Gateway delivers at most ${MAX_MESSAGE_BYTES}`,
    );
  }
  return frame;
}

export function pongFrame(body: string | undefined, now: Date): string {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  return JSON.stringify({ type: 'pong', time: now.toISOString(), ...idOf(frame) } satisfies PongFrame);
}

/** The reply to a refresh: the new credential holds until `expiresAt`. */
export function authenticatedFrame(expiresAt: number, frame: unknown): string {
  return JSON.stringify({ type: 'authenticated', expiresAt: new Date(expiresAt * 1000).toISOString(), ...idOf(frame) } satisfies AuthenticatedFrame);
}

export function errorFrame(code: ErrorCode, message: string, frame?: unknown): string {
  return JSON.stringify({ type: 'error', code, message, ...idOf(frame) } satisfies ErrorFrame);
}

/** The reply to a frame nested deeper than any handler reads one: refused before it is validated. */
export function tooDeepFrame(frame: unknown): string {
  return errorFrame('too_deep', tooDeepMessage('the frame'), frame);
}

/** The reply to a frame that matched no route: says whether it was not JSON, not a frame, or an unknown action. */
export function unroutedFrameError(body: string | undefined): string {
  const json = parseJson(body);
  if (json === undefined) return errorFrame('invalid_json', 'frame is not valid JSON');
  if (nestsTooDeep(json)) return tooDeepFrame(json);
  const frame = ClientFrame.safeParse(json);
  if (!frame.success) {
    return errorFrame('invalid_frame', 'a frame is a JSON object with a string "action"', json);
  }
  const action = frame.data.action.slice(0, 64);
  // Their routes exist only on a stack with history.
  if (action === 'resume' || action === 'history') return errorFrame('unknown_action', `this stack keeps no history (history: false): no "${action}"`, json);
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
