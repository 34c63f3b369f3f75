// What the application sees of the client: its options, its events and its handles.
import type { Clock } from './clock';
import type { WsNotifyError } from './errors';
import type { ClientEvent, CloudEvent, JsonValue, PublishedFrame, ResumePosition, SubscribedFrame } from './protocol';
import type { WebSocketConstructor } from './socket';
import type { Gap } from './streams';

/** The client's phase as the application sees it: a handover is `open` (see phase.ts). */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A notification as the application receives it: once, and in seq order where the stack keeps streams. */
export interface Notification {
  id: string;
  time: string;
  data: JsonValue;
  /** `user`; absent (with `seq`) where the stack keeps no history, or for a NotifyConnection send. */
  stream?: string;
  seq?: number;
  /** Missed while disconnected, and sent again by a resume. */
  replay?: boolean;
}

export interface TopicEvent {
  topic: string;
  event: CloudEvent;
  /** `topic:<name>`; absent (with `seq`) where the stack keeps no history. */
  stream?: string;
  seq?: number;
  replay?: boolean;
}

/** A resume replayed everything missed: seqs `from`..`to` (`from` = `to` + 1 when nothing was missed). */
export interface Recovered {
  stream: string;
  from?: number;
  to?: number;
}

export interface ClientEvents {
  notification: Notification;
  /** Every topic event, also those a backend's enrichment sent to this user without a subscription. */
  event: TopicEvent;
  state: ClientState;
  recovered: Recovered;
  gap: Gap;
  /** Errors no request of the application's own carries; `fatal` ones stopped the client. */
  error: WsNotifyError;
}

export interface SubscriptionEvents {
  event: TopicEvent;
  /** The server's reply to each (re)subscribe. */
  subscribed: SubscribedFrame;
  /** The subscription ended: the server refused it (`forbidden_topic`, …) or ended it (`grant_revoked`). */
  error: WsNotifyError;
}

export interface SubscribeOptions {
  /** Event types to receive (`order.*` matches by prefix); all when absent. */
  events?: string[];
  /** Share the topic's events with the group's other members. */
  group?: string;
}

export interface Subscription {
  readonly topic: string;
  on<Name extends keyof SubscriptionEvents>(name: Name, listener: (value: SubscriptionEvents[Name]) => void): () => void;
  off<Name extends keyof SubscriptionEvents>(name: Name, listener: (value: SubscriptionEvents[Name]) => void): void;
  /** Ends the subscription; resolves once the server confirmed (at once when disconnected). */
  unsubscribe(): Promise<void>;
}

export interface ClientOptions {
  /** The stack's `WebSocketUrl`. */
  url: string;
  /** A JWT, or a function the client calls for a fresh one: at connect, before `exp` (to refresh), and after an expiry. */
  token?: string | (() => string | Promise<string>);
  apiKey?: string;
  /** Connect with no credential, where the stack allows anonymous connections. */
  anonymous?: boolean;
  /** The WebSocket class: `globalThis.WebSocket` unless given (pass `ws`'s in Node 20, which also sends the credential in headers). */
  WebSocket?: WebSocketConstructor;
  /** Positions to resume from (kept from `positions()` of an earlier run). */
  positions?: Record<string, ResumePosition>;
  reconnect?: {
    /** @default 500 */
    baseDelayMs?: number;
    /** @default 30_000 */
    maxDelayMs?: number;
    /** A connection open this long resets the backoff. @default 30_000 */
    stableAfterMs?: number;
  };
  heartbeat?: {
    /** Ping after this long without a frame sent, or received: under API Gateway's 10-minute idle close. @default 240_000 */
    idleMs?: number;
    /** No frame within this long of a ping: the socket is dead, connect again. @default 10_000 */
    timeoutMs?: number;
  };
  /** The server's connection lifetime: the client moves to a new connection before it. @default 7_200_000 (API Gateway's 2 hours) */
  maxConnectionMs?: number;
  /** How long a hole in a stream may wait for its frame before the client resumes it. @default 1_000 */
  reorderWindowMs?: number;
  ack?: {
    /** @default 50 */
    every?: number;
    /** @default 1_000 */
    afterMs?: number;
  };
  /** Publishes kept while disconnected. @default 100 */
  outboxSize?: number;
  /** How long the server has to answer a request (and to complete an upgrade). @default 10_000 */
  requestTimeoutMs?: number;
  clock?: Clock;
  random?: () => number;
}

export interface WsNotifyClient {
  readonly state: ClientState;
  on<Name extends keyof ClientEvents>(name: Name, listener: (value: ClientEvents[Name]) => void): () => void;
  off<Name extends keyof ClientEvents>(name: Name, listener: (value: ClientEvents[Name]) => void): void;
  /** Subscribes now and after every reconnect; subscribing to a topic again replaces its options. */
  subscribe(topic: string, options?: SubscribeOptions): Subscription;
  /** Publishes now, or after the next connect (kept in the outbox meanwhile); resolves with the server's reply. */
  publish(topic: string, event: ClientEvent): Promise<PublishedFrame>;
  /** The last position the application received in each stream: keep it to resume a later run with `positions`. */
  positions(): Record<string, ResumePosition>;
  /** Acks what was received, closes the connection; resolves when every socket and timer is gone. */
  close(): Promise<void>;
}
