/**
 * The ws-notify wire protocol as types, in one place: the server builds its frames against them
 * (lambdas/core/frames.ts and topic-frames.ts check theirs with `satisfies`) and the client reads
 * them, so the two cannot drift apart without a compile error. Types only: nothing here is bundled.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A CloudEvent 1.0 in structured JSON form, as a subscriber receives it. */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: JsonValue;
  data_base64?: string;
  /** Extension attributes, e.g. `wsnpublisher`, set by the server: who published the event. */
  [attribute: string]: JsonValue | undefined;
}

/** A frame id a client may send; replies echo it. */
export type FrameId = string | number;

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
  | 'forbidden_group'
  | 'invalid_subscription'
  | 'too_many_subscriptions'
  | 'connection_closed'
  | 'invalid_event'
  | 'too_deep'
  | 'invalid_resume'
  | 'invalid_history'
  | 'not_subscribed'
  | 'invalid_stream'
  | 'invalid_ack';

/** Where a frame sits in its durable stream; absent where the stack keeps no history. */
export interface StreamPosition {
  /** `user`, or `topic:<name>`. */
  stream?: string;
  seq?: number;
  /** Opaque; changes only when the stream's history was lost. Compared for equality only. */
  epoch?: string;
  /** Sent again by a `resume` (or a `subscribe` with `since`/`rewind`), not live. */
  replay?: true;
}

export interface NotificationFrame extends StreamPosition {
  type: 'notification';
  id: string;
  time: string;
  data: JsonValue;
}

export interface EventFrame extends StreamPosition {
  type: 'event';
  topic: string;
  event: CloudEvent;
}

interface Reply {
  id?: FrameId;
}

export interface PongFrame extends Reply {
  type: 'pong';
  time: string;
}

export interface AuthenticatedFrame extends Reply {
  type: 'authenticated';
  expiresAt: string;
}

export interface SubscribedFrame extends Reply {
  type: 'subscribed';
  topic: string;
  events: string[] | null;
  group: string | null;
}

export interface UnsubscribedFrame extends Reply {
  type: 'unsubscribed';
  topic: string;
  /** Present when the server ended the subscription itself (a refresh's grants no longer cover it). */
  reason?: 'grant_revoked';
}

export interface PublishedFrame extends Reply {
  type: 'published';
  topic: string;
  eventId: string;
}

export interface ResumedFrame extends Reply {
  type: 'resumed';
  stream: string;
  recovered: boolean;
  reason?: 'epoch_changed' | 'retention' | 'replay_limit';
  /** The seqs replayed: `from` = `to` + 1 when nothing was missed. */
  from?: number;
  to?: number;
}

export interface ErrorFrame extends Reply {
  type: 'error';
  code: ErrorCode;
  message: string;
}

export interface KeepaliveFrame {
  type: 'keepalive';
}

export type ServerFrame =
  | NotificationFrame
  | EventFrame
  | PongFrame
  | AuthenticatedFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | PublishedFrame
  | ResumedFrame
  | ErrorFrame
  | KeepaliveFrame;

/** A position to resume a stream from: everything after `seq`. `seq` 0 (epoch omitted) is the beginning. */
export interface ResumePosition {
  epoch?: string;
  seq: number;
}

/** What a client may say about an event it publishes; the server sets the rest. */
export interface ClientEvent {
  type: string;
  id?: string;
  subject?: string;
  datacontenttype?: string;
  data?: JsonValue;
}

export type ClientFrame = { id?: FrameId } & (
  | { action: 'ping' }
  | { action: 'authenticate'; token: string }
  | { action: 'subscribe'; topic: string; events?: string[]; group?: string; since?: ResumePosition; rewind?: number }
  | { action: 'unsubscribe'; topic: string }
  | { action: 'publish'; topic: string; event: ClientEvent }
  | { action: 'resume'; streams: Record<string, ResumePosition> }
  | { action: 'ack'; stream: string; seq: number }
);
