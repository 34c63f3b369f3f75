import { backoffDelay, type Clock, systemClock, Timer } from './clock';
import { type Credential, expiryOf, refreshTime } from './credentials';
import { Emitter } from './emitter';
import { WsNotifyError } from './errors';
import type {
  ClientEvent,
  ClientFrame,
  CloudEvent,
  EventFrame,
  JsonValue,
  NotificationFrame,
  PublishedFrame,
  ResumedFrame,
  ResumePosition,
  ServerFrame,
  SubscribedFrame,
} from './protocol';
import { openSocket, type Socket, type WebSocketConstructor } from './socket';
import { type Gap, StreamTracker } from './streams';

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

export function createClient(options: ClientOptions): WsNotifyClient {
  return new Client(options);
}

/** A server that does not answer the close handshake within this long is cut off. */
const CLOSE_TIMEOUT_MS = 2_000;
const RETRY_REFRESH_MS = 5_000;
/** How many frames without a seq are remembered, to drop a repeat. */
const RECENT_KEYS = 512;
const HEARTBEAT_ID = 'wsn-heartbeat';

/** The options' timings and bounds, with their defaults. */
function settingsOf({ reconnect = {}, heartbeat = {}, ack = {}, ...options }: ClientOptions) {
  return {
    baseDelayMs: reconnect.baseDelayMs ?? 500,
    maxDelayMs: reconnect.maxDelayMs ?? 30_000,
    stableAfterMs: reconnect.stableAfterMs ?? 30_000,
    idleMs: heartbeat.idleMs ?? 240_000,
    pongTimeoutMs: heartbeat.timeoutMs ?? 10_000,
    maxConnectionMs: options.maxConnectionMs ?? 7_200_000,
    reorderWindowMs: options.reorderWindowMs ?? 1_000,
    ackEvery: ack.every ?? 50,
    ackAfterMs: ack.afterMs ?? 1_000,
    outboxSize: options.outboxSize ?? 100,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
  };
}

type Delivery = { kind: 'notification'; frame: NotificationFrame } | { kind: 'event'; frame: EventFrame };

interface PendingRequest {
  connection: Connection;
  resolve(frame: ServerFrame): void;
  reject(error: WsNotifyError): void;
  timer: unknown;
  /** What to do instead of failing when the connection closes first (a publish goes back to the outbox). */
  lost?: () => void;
}

interface OutboxEntry {
  topic: string;
  event: ClientEvent;
  resolve(frame: PublishedFrame): void;
  reject(error: WsNotifyError): void;
}

/** One WebSocket and what the client tracks about it. During a handover there are two. */
class Connection {
  socket?: Socket;
  open = false;
  openedAt = 0;
  lastSent = 0;
  lastReceived = 0;
  /** Frames received: a ping is answered when this moves. */
  received = 0;
  /** The token it connected with was fetched for it, not reused from the cache. */
  freshToken = false;
  /** The server said `credential_expired`: the close that follows is answered with a fresh token, at once. */
  expired = false;
  readonly resumeWaiters = new Map<string, () => void>();
  readonly heartbeat: Timer;
  readonly pong: Timer;
  readonly upgrade: Timer;
  readonly closed: Promise<void>;
  markClosed!: () => void;

  constructor(clock: Clock) {
    this.heartbeat = new Timer(clock);
    this.pong = new Timer(clock);
    this.upgrade = new Timer(clock);
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  clearTimers(): void {
    this.heartbeat.clear();
    this.pong.clear();
    this.upgrade.clear();
  }
}

class TopicSubscription extends Emitter<SubscriptionEvents> implements Subscription {
  constructor(
    readonly topic: string,
    public options: SubscribeOptions,
    private readonly end: (subscription: TopicSubscription) => Promise<void>,
  ) {
    super();
  }

  unsubscribe(): Promise<void> {
    return this.end(this);
  }

}

/**
 * The client's state machine: connecting → open ⇄ reconnecting → closed (see docs/client.md). Every
 * transition goes through `setState`; every timer is a `Timer` on the injected clock, cleared by `close()`.
 */
class Client extends Emitter<ClientEvents> implements WsNotifyClient {
  #currentState: ClientState = 'connecting';
  readonly #url: string;
  readonly #credential: Credential;
  readonly #WebSocketClass: WebSocketConstructor;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #settings: ReturnType<typeof settingsOf>;
  readonly #tracker: StreamTracker<Delivery>;
  readonly #subscriptions = new Map<string, TopicSubscription>();
  readonly #pending = new Map<string, PendingRequest>();
  readonly #outbox: OutboxEntry[] = [];
  readonly #unacked = new Map<string, { seq: number; count: number }>();
  readonly #resuming = new Set<string>();
  /** Keys of recent frames that carry no seq, to drop the copy a handover's overlap (or a retry) brings. */
  readonly #recentKeys = new Set<string>();
  readonly #reconnectTimer: Timer;
  readonly #refreshTimer: Timer;
  readonly #handoverTimer: Timer;
  readonly #ackTimer: Timer;
  #active?: Connection;
  /** The connection a handover is opening to replace the active one. */
  #candidate?: Connection;
  #attempts = 0;
  #nextId = 0;
  #token?: { value: string; obtainedAt: number; expiresAt?: number };
  #refreshUnsupported = false;
  #closing?: Promise<void>;

  constructor(options: ClientOptions) {
    super();
    this.#credential = credentialOf(options);
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) {
      throw new TypeError('ws-notify: no global WebSocket here (Node < 22): pass one, e.g. the ws package\'s');
    }
    this.#WebSocketClass = WebSocketClass;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#settings = settingsOf(options);
    this.#reconnectTimer = new Timer(this.#clock);
    this.#refreshTimer = new Timer(this.#clock);
    this.#handoverTimer = new Timer(this.#clock);
    this.#ackTimer = new Timer(this.#clock);
    this.#tracker = new StreamTracker<Delivery>(
      {
        deliver: (stream, seq, item) => this.#deliver(item, stream, seq),
        stalled: (stream) => this.#resumeStalled(stream),
        gap: (gap) => this.emit('gap', gap),
      },
      this.#clock,
      this.#settings.reorderWindowMs,
      1_000,
    );
    if (options.positions !== undefined) this.#tracker.restore(options.positions);
    this.#url = options.url;
    void this.#connect(false);
  }

  get state(): ClientState {
    return this.#currentState;
  }

  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    // A filter or a group receives part of the topic's stream: its seqs have holes by design.
    this.#tracker.setSparse(`topic:${topic}`, options.events !== undefined || options.group !== undefined);
    let subscription = this.#subscriptions.get(topic);
    if (subscription === undefined) {
      subscription = new TopicSubscription(topic, options, (ended) => this.#unsubscribe(ended));
      this.#subscriptions.set(topic, subscription);
    } else {
      subscription.options = options;
    }
    // Also on a handover's new connection, whose session began before this subscription.
    for (const connection of [this.#active, this.#candidate]) if (connection?.open) void this.#sendSubscribe(connection, subscription);
    return subscription;
  }

  publish(topic: string, event: ClientEvent): Promise<PublishedFrame> {
    // An id of the client's own, so that a publish sent again after a lost connection is recognisable as a repeat.
    const entry = { topic, event: { ...event, id: event.id ?? randomId() } };
    return new Promise<PublishedFrame>((resolve, reject) => {
      if (this.#currentState === 'closed') return reject(closedError());
      const queued: OutboxEntry = { ...entry, resolve, reject };
      if (this.#active?.open) return this.#sendPublish(this.#active, queued);
      if (this.#outbox.length >= this.#settings.outboxSize) {
        return reject(new WsNotifyError('outbox_full', `the outbox holds ${this.#outbox.length} publishes`));
      }
      this.#outbox.push(queued);
    });
  }

  positions(): Record<string, ResumePosition> {
    return this.#tracker.positions();
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#flushAcks();
      this.#stop(closedError());
    }
    return this.#closing as Promise<void>;
  }

  // ---- transitions ----

  #setState(next: ClientState): void {
    if (this.#currentState === next || this.#currentState === 'closed') return;
    this.#currentState = next;
    this.emit('state', next);
  }

  /** Opens a connection: the active one, or (`handover`) its successor. */
  async #connect(handover: boolean): Promise<void> {
    let token: { value: string; fresh: boolean } | undefined;
    try {
      token = await this.#tokenForConnect();
    } catch (error) {
      if (this.#currentState === 'closed') return;
      this.#tokenFailed(error);
      if (!handover) this.#scheduleReconnect(false);
      return;
    }
    if (this.#currentState === 'closed' || (handover && (this.#currentState !== 'open' || this.#candidate !== undefined))) return;
    const connection = new Connection(this.#clock);
    connection.freshToken = token?.fresh ?? false;
    if (handover) this.#candidate = connection;
    else this.#active = connection;
    try {
      connection.socket = openSocket(this.#WebSocketClass, this.#url, this.#credential, token?.value, {
        open: () => this.#onOpen(connection),
        message: (text) => this.#onMessage(connection, text),
        close: (refusedStatus) => this.#onClose(connection, refusedStatus),
      });
    } catch (error) {
      // A URL the WebSocket class refuses: no retry fixes it.
      connection.markClosed();
      this.#stop(new WsNotifyError('upgrade_refused', `cannot open ${this.#url}: ${String(error)}`, true, { cause: error }), true);
      return;
    }
    connection.upgrade.set(() => this.#drop(connection), this.#settings.requestTimeoutMs);
  }

  #onOpen(connection: Connection): void {
    connection.upgrade.clear();
    connection.open = true;
    connection.openedAt = connection.lastSent = connection.lastReceived = this.#clock.now();
    if (connection === this.#candidate) {
      void this.#completeHandover(connection);
      return;
    }
    this.#setState('open');
    void this.#startSession(connection);
    this.#armConnection(connection);
  }

  #armConnection(connection: Connection): void {
    this.#heartbeat(connection);
    const lead = Math.min(60_000, this.#settings.maxConnectionMs / 10);
    this.#handoverTimer.set(() => void this.#connect(true), connection.openedAt + this.#settings.maxConnectionMs - lead - this.#clock.now());
    this.#scheduleRefresh();
    this.#flushOutbox(connection);
    this.#flushAcks();
  }

  /** Before the server's lifetime cap: the successor subscribes and resumes, then the old connection closes. No gap, and duplicates are dropped. */
  async #completeHandover(connection: Connection): Promise<void> {
    const timeout = new Timer(this.#clock);
    await Promise.race([this.#startSession(connection), new Promise<void>((resolve) => timeout.set(resolve, this.#settings.requestTimeoutMs)), connection.closed]);
    timeout.clear();
    if (connection !== this.#candidate || !connection.open) return;
    const previous = this.#active;
    this.#candidate = undefined;
    this.#active = connection;
    if (previous !== undefined) {
      previous.clearTimers();
      previous.socket?.close(1000);
    }
    this.#armConnection(connection);
  }

  #onClose(connection: Connection, refusedStatus?: number): void {
    connection.open = false;
    connection.clearTimers();
    connection.markClosed();
    for (const resolve of connection.resumeWaiters.values()) resolve();
    this.#settlePending(connection);
    if (connection === this.#candidate) {
      // The handover failed: the active connection carries on, and is replaced when the server closes it.
      this.#candidate = undefined;
      return;
    }
    if (connection !== this.#active || this.#currentState === 'closed') return;
    if (this.#candidate !== undefined) return this.#promoteCandidate(this.#candidate);
    this.#active = undefined;
    this.#resuming.clear();
    this.#refreshTimer.clear();
    this.#handoverTimer.clear();
    const refusal = this.#refusal(connection, refusedStatus);
    if (refusal !== undefined) return this.#stop(refusal, true);
    if (connection.openedAt > 0 && this.#clock.now() - connection.openedAt >= this.#settings.stableAfterMs) this.#attempts = 0;
    this.#setState('reconnecting');
    // After an expiry, or a refusal of a token the cache held, a fresh token is tried at once.
    const fresh = connection.expired || (refusedStatus === 403 && this.#credential.kind === 'token');
    if (fresh) this.#token = undefined;
    this.#scheduleReconnect(fresh);
  }

  /** The server closed the active connection while its successor was opening: the successor takes over, with no reconnect. */
  #promoteCandidate(successor: Connection): void {
    this.#candidate = undefined;
    this.#active = successor;
    this.#resuming.clear();
    // Once open, its session is under way (completeHandover); before that, onOpen treats it as the active connection.
    if (successor.open) this.#armConnection(successor);
  }

  /** The refusals a retry cannot fix. */
  #refusal(connection: Connection, status: number | undefined): WsNotifyError | undefined {
    if (status === 401) return new WsNotifyError('upgrade_refused', 'HTTP 401: the stack wants a credential', true, { status });
    if (status !== 403) return undefined;
    if (this.#credential.kind === 'token' && !connection.freshToken) return undefined;
    const what = this.#credential.kind === 'apiKey' ? 'the API key is revoked, expired or unknown' : 'the credential does not verify';
    return new WsNotifyError('upgrade_refused', `HTTP 403: ${what}`, true, { status });
  }

  #scheduleReconnect(immediately: boolean): void {
    const delay = immediately ? 0 : backoffDelay(this.#attempts, this.#settings.baseDelayMs, this.#settings.maxDelayMs, this.#random);
    if (!immediately) this.#attempts += 1;
    this.#reconnectTimer.set(() => void this.#connect(false), delay);
  }

  /** Ends the client: no reconnect, every request and publish fails with `error`, every socket closes. */
  #stop(error: WsNotifyError, report = false): void {
    if (this.#closing !== undefined) return;
    this.#setState('closed');
    for (const timer of [this.#reconnectTimer, this.#refreshTimer, this.#handoverTimer, this.#ackTimer]) timer.clear();
    this.#tracker.dispose();
    for (const entry of this.#outbox.splice(0)) entry.reject(error);
    for (const [id, request] of this.#pending) {
      this.#clock.clearTimeout(request.timer);
      this.#pending.delete(id);
      request.reject(error);
    }
    const connections = [this.#active, this.#candidate].filter((connection): connection is Connection => connection !== undefined);
    this.#active = this.#candidate = undefined;
    this.#closing = Promise.all(connections.map((connection) => this.#closeSocket(connection))).then(() => undefined);
    if (report) this.emit('error', error);
  }

  #closeSocket(connection: Connection): Promise<void> {
    connection.clearTimers();
    connection.socket?.close(1000);
    // A server that does not answer the close handshake is cut off.
    const giveUp = new Timer(this.#clock);
    giveUp.set(() => {
      connection.socket?.drop();
      connection.markClosed();
    }, CLOSE_TIMEOUT_MS);
    return connection.closed.then(() => giveUp.clear());
  }

  /** A socket that stopped answering (or never completed its upgrade): cut off, and handled as closed. */
  #drop(connection: Connection): void {
    connection.socket?.drop();
    this.#onClose(connection);
  }

  // ---- frames ----

  #onMessage(connection: Connection, text: string): void {
    connection.lastReceived = this.#clock.now();
    connection.received += 1;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return this.emit('error', new WsNotifyError('invalid_json', `a frame that is not JSON: ${text.slice(0, 100)}`));
    }
    const request = 'id' in frame && frame.id !== undefined ? this.#pending.get(String(frame.id)) : undefined;
    if (request !== undefined && request.connection === connection) {
      this.#pending.delete(String((frame as { id: unknown }).id));
      this.#clock.clearTimeout(request.timer);
      if (frame.type === 'error') request.reject(new WsNotifyError(frame.code, frame.message));
      else request.resolve(frame);
    }
    switch (frame.type) {
      case 'notification':
      case 'event':
        return this.#receive(frame.type === 'notification' ? { kind: 'notification', frame } : { kind: 'event', frame });
      case 'resumed':
        return this.#onResumed(connection, frame);
      case 'unsubscribed':
        if (frame.reason !== undefined) this.#endSubscription(frame.topic, new WsNotifyError('grant_revoked', `the refreshed credential no longer covers "${frame.topic}"`));
        return;
      case 'error':
        if (request === undefined) this.#onServerError(connection, new WsNotifyError(frame.code, frame.message));
        return;
      default:
        return;
    }
  }

  #onServerError(connection: Connection, error: WsNotifyError): void {
    if (error.code === 'credential_revoked') {
      return this.#stop(new WsNotifyError('credential_revoked', `${error.message}: connect with another credential`, true), true);
    }
    if (error.code === 'credential_expired') {
      connection.expired = true;
      this.#token = undefined;
      return;
    }
    this.emit('error', error);
  }

  #receive(delivery: Delivery): void {
    const { stream, seq, epoch } = delivery.frame;
    if (stream !== undefined && seq !== undefined && epoch !== undefined) return this.#tracker.accept(stream, epoch, seq, delivery);
    // No position (a stack without history, a NotifyConnection send): drop only an exact repeat.
    const key = delivery.kind === 'notification' ? `n:${delivery.frame.id}` : `e:${delivery.frame.topic}:${String(delivery.frame.event['wsnpublisher'])}:${delivery.frame.event.source}:${delivery.frame.event.id}`;
    if (this.#recentKeys.has(key)) return;
    this.#recentKeys.add(key);
    if (this.#recentKeys.size > RECENT_KEYS) this.#recentKeys.delete(this.#recentKeys.values().next().value as string);
    this.#deliver(delivery);
  }

  #deliver(delivery: Delivery, stream?: string, seq?: number): void {
    // Only the user stream is acked: a topic's is shared by every subscriber, and the server keeps no per-user ack of it.
    if (stream === 'user' && seq !== undefined) this.#countAck(stream, seq);
    const position = { ...(stream !== undefined && { stream }), ...(seq !== undefined && { seq }), ...(delivery.frame.replay === true && { replay: true }) };
    if (delivery.kind === 'notification') {
      const { id, time, data } = delivery.frame;
      return this.emit('notification', { id, time, data, ...position });
    }
    const event: TopicEvent = { topic: delivery.frame.topic, event: delivery.frame.event, ...position };
    this.#subscriptions.get(event.topic)?.emit('event', event);
    this.emit('event', event);
  }

  #onResumed(connection: Connection, frame: ResumedFrame): void {
    connection.resumeWaiters.get(frame.stream)?.();
    connection.resumeWaiters.delete(frame.stream);
    this.#resuming.delete(frame.stream);
    this.#tracker.resumed(frame);
    if (frame.recovered) this.emit('recovered', { stream: frame.stream, ...(frame.from !== undefined && { from: frame.from }), ...(frame.to !== undefined && { to: frame.to }) });
  }

  // ---- sessions: what a new connection sends ----

  /** Subscribes again and resumes every stream from the application's position; resolves when the server answered all. */
  #startSession(connection: Connection): Promise<unknown> {
    const steps: Promise<unknown>[] = [...this.#subscriptions.values()].map((subscription) => this.#sendSubscribe(connection, subscription));
    const user = this.#tracker.position('user');
    if (user !== undefined) steps.push(this.#resume(connection, 'user', user));
    return Promise.all(steps);
  }

  /** A topic's stream resumes through `subscribe` with `since`: a `resume` could reach the server before the subscription. */
  #sendSubscribe(connection: Connection, subscription: TopicSubscription): Promise<unknown> {
    const stream = `topic:${subscription.topic}`;
    const since = this.#tracker.position(stream);
    const { events, group } = subscription.options;
    const resumed = since === undefined ? undefined : this.#awaitResumed(connection, stream);
    const frame: ClientFrame = {
      action: 'subscribe',
      topic: subscription.topic,
      ...(events !== undefined && { events }),
      ...(group !== undefined && { group }),
      ...(since !== undefined && { since }),
    };
    return this.#request<SubscribedFrame>(connection, frame).then(
      (reply) => {
        if (this.#subscriptions.get(subscription.topic) === subscription) subscription.emit('subscribed', reply);
        return resumed;
      },
      (error: WsNotifyError) => {
        if (error.code !== 'connection_lost' && error.code !== 'client_closed' && error.code !== 'timeout') this.#endSubscription(subscription.topic, error, subscription);
      },
    );
  }

  #resume(connection: Connection, stream: string, position: ResumePosition): Promise<void> {
    const resumed = this.#awaitResumed(connection, stream);
    this.#resuming.add(stream);
    this.#request(connection, { action: 'resume', streams: { [stream]: position } }).catch((error: WsNotifyError) => {
      if (error.code === 'connection_lost' || error.code === 'client_closed') return;
      // The server cannot resume (no streams, or not this one): what is buffered is delivered across the hole.
      this.#resuming.delete(stream);
      connection.resumeWaiters.get(stream)?.();
      this.#tracker.skip(stream);
      this.emit('error', error);
    });
    return resumed;
  }

  #awaitResumed(connection: Connection, stream: string): Promise<void> {
    return new Promise((resolve) => connection.resumeWaiters.set(stream, resolve));
  }

  /** A hole that did not fill within the reorder window. */
  #resumeStalled(stream: string): void {
    const position = this.#tracker.position(stream);
    if (this.#resuming.has(stream) || position === undefined || !this.#active?.open) return;
    void this.#resume(this.#active, stream, position);
  }

  #unsubscribe(subscription: TopicSubscription): Promise<void> {
    if (this.#subscriptions.get(subscription.topic) !== subscription) return Promise.resolve();
    this.#forgetTopic(subscription.topic);
    if (!this.#active?.open) return Promise.resolve();
    return this.#request(this.#active, { action: 'unsubscribe', topic: subscription.topic }).then(
      () => undefined,
      (error: WsNotifyError) => {
        // Disconnected meanwhile: the subscription ended with the connection.
        if (error.code !== 'connection_lost' && error.code !== 'client_closed') throw error;
      },
    );
  }

  #endSubscription(topic: string, error: WsNotifyError, only?: TopicSubscription): void {
    const subscription = this.#subscriptions.get(topic);
    if (subscription === undefined || (only !== undefined && subscription !== only)) return;
    this.#forgetTopic(topic);
    // Told on the subscription and on the client, so that an application listening on either learns it.
    subscription.emit('error', error);
    this.emit('error', error);
  }

  #forgetTopic(topic: string): void {
    this.#subscriptions.delete(topic);
    this.#tracker.forget(`topic:${topic}`);
    this.#tracker.setSparse(`topic:${topic}`, false);
    this.#unacked.delete(`topic:${topic}`);
  }

  // ---- requests, publishes, acks ----

  #request<Reply extends ServerFrame>(connection: Connection, frame: ClientFrame, lost?: () => void): Promise<Reply> {
    const id = `wsn-${++this.#nextId}`;
    return new Promise<Reply>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(new WsNotifyError('timeout', `no reply to ${frame.action} within ${this.#settings.requestTimeoutMs} ms`));
      }, this.#settings.requestTimeoutMs);
      this.#pending.set(id, { connection, resolve: resolve as (frame: ServerFrame) => void, reject, timer, ...(lost !== undefined && { lost }) });
      this.#send(connection, { ...frame, id });
    });
  }

  #send(connection: Connection, frame: ClientFrame): void {
    connection.lastSent = this.#clock.now();
    connection.socket?.send(frame);
  }

  /** Fails (or, for a publish, requeues) the requests a closed connection will never answer. */
  #settlePending(connection: Connection): void {
    const requeued: (() => void)[] = [];
    for (const [id, request] of this.#pending) {
      if (request.connection !== connection) continue;
      this.#pending.delete(id);
      this.#clock.clearTimeout(request.timer);
      if (request.lost !== undefined && this.#currentState !== 'closed') requeued.push(request.lost);
      else request.reject(new WsNotifyError('connection_lost', 'the connection closed before the reply'));
    }
    // In their original order, ahead of publishes made since.
    for (const requeue of requeued.reverse()) requeue();
    if (requeued.length > 0 && this.#active?.open) this.#flushOutbox(this.#active);
  }

  #sendPublish(connection: Connection, entry: OutboxEntry): void {
    this.#request<PublishedFrame>(connection, { action: 'publish', topic: entry.topic, event: entry.event }, () => this.#outbox.unshift(entry)).then(entry.resolve, entry.reject);
  }

  #flushOutbox(connection: Connection): void {
    for (const entry of this.#outbox.splice(0)) this.#sendPublish(connection, entry);
  }

  #countAck(stream: string, seq: number): void {
    const count = (this.#unacked.get(stream)?.count ?? 0) + 1;
    this.#unacked.set(stream, { seq, count });
    if (count >= this.#settings.ackEvery) this.#flushAcks();
    else if (!this.#ackTimer.pending) this.#ackTimer.set(() => this.#flushAcks(), this.#settings.ackAfterMs);
  }

  /** Cumulative acks, one frame per stream; kept for the next connection when there is none. */
  #flushAcks(): void {
    const connection = this.#active;
    if (!connection?.open) return;
    this.#ackTimer.clear();
    for (const [stream, { seq }] of this.#unacked) this.#send(connection, { action: 'ack', stream, seq });
    this.#unacked.clear();
  }

  // ---- liveness and credentials ----

  /** Pings only after `idleMs` without a frame sent or received; no frame within the timeout means a dead socket. */
  #heartbeat(connection: Connection): void {
    const { idleMs, pongTimeoutMs } = this.#settings;
    const due = Math.min(connection.lastSent, connection.lastReceived) + idleMs;
    connection.heartbeat.set(() => {
      if (!connection.open) return;
      if (Math.min(connection.lastSent, connection.lastReceived) + idleMs > this.#clock.now()) return this.#heartbeat(connection);
      const received = connection.received;
      this.#send(connection, { action: 'ping', id: HEARTBEAT_ID });
      connection.pong.set(() => {
        if (connection.received === received) return this.#drop(connection);
        this.#heartbeat(connection);
      }, pongTimeoutMs);
    }, due - this.#clock.now());
  }

  async #tokenForConnect(): Promise<{ value: string; fresh: boolean } | undefined> {
    const credential = this.#credential;
    if (credential.kind !== 'token') return undefined;
    const cached = this.#token;
    if (cached !== undefined && (cached.expiresAt === undefined || cached.expiresAt - this.#clock.now() > CLOSE_TIMEOUT_MS)) {
      return { value: cached.value, fresh: false };
    }
    return { value: await this.#fetchToken(credential.token), fresh: true };
  }

  async #fetchToken(tokenFunction: () => string | Promise<string>): Promise<string> {
    const value: unknown = await tokenFunction();
    if (typeof value !== 'string' || value.length === 0) throw new TypeError(`the token function returned ${typeof value}, not a token`);
    const expiresAt = expiryOf(value);
    this.#token = { value, obtainedAt: this.#clock.now(), ...(expiresAt !== undefined && { expiresAt }) };
    return value;
  }

  #tokenFailed(error: unknown): void {
    this.emit('error', new WsNotifyError('token_unavailable', `the token function failed: ${String(error)}`, false, { cause: error }));
  }

  #scheduleRefresh(): void {
    const token = this.#token;
    if (this.#refreshUnsupported || token?.expiresAt === undefined) return;
    this.#refreshTimer.set(() => void this.#refresh(), refreshTime(token.obtainedAt, token.expiresAt) - this.#clock.now());
  }

  /** Sends a fresh token over the open connection, so that it is never closed for expiry. */
  async #refresh(): Promise<void> {
    const connection = this.#active;
    const credential = this.#credential;
    if (!connection?.open || credential.kind !== 'token') return;
    const retry = () => {
      if (this.#active === connection && this.#token?.expiresAt !== undefined && this.#token.expiresAt > this.#clock.now()) {
        this.#refreshTimer.set(() => void this.#refresh(), Math.min(RETRY_REFRESH_MS, (this.#token.expiresAt - this.#clock.now()) / 2));
      }
    };
    let token: string;
    try {
      token = await this.#fetchToken(credential.token);
    } catch (error) {
      this.#tokenFailed(error);
      return retry();
    }
    if (this.#active !== connection || !connection.open) return;
    try {
      await this.#request(connection, { action: 'authenticate', token });
      this.#scheduleRefresh();
    } catch (error) {
      const failure = error as WsNotifyError;
      if (failure.code === 'connection_lost' || failure.code === 'client_closed') return;
      if (failure.code === 'jwt_not_enabled') this.#refreshUnsupported = true;
      this.emit('error', failure);
      if (failure.code !== 'jwt_not_enabled') retry();
    }
  }
}

const closedError = () => new WsNotifyError('client_closed', 'the client is closed');

function credentialOf({ token, apiKey, anonymous }: ClientOptions): Credential {
  const given = [token !== undefined, apiKey !== undefined, anonymous === true].filter(Boolean).length;
  if (given !== 1) throw new TypeError('ws-notify: give exactly one of token, apiKey or anonymous: true');
  if (token !== undefined) return { kind: 'token', token: typeof token === 'string' ? () => token : token };
  if (apiKey !== undefined) return { kind: 'apiKey', apiKey };
  return { kind: 'anonymous' };
}

function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  // randomUUID needs a secure context; the fallback only has to make repeats of one client's publishes recognisable.
  return crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
}
