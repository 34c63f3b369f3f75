import { backoffDelay, type Clock, systemClock, Timer } from './clock';
import { Connection } from './connection';
import { type Credential, expiryOf, refreshTime } from './credentials';
import { Emitter } from './emitter';
import { WsNotifyError } from './errors';
import { connectionsOf, leave, type Phase } from './phase';
import type { ClientEvent, ClientFrame, EventFrame, NotificationFrame, PublishedFrame, ResumedFrame, ResumePosition, ServerFrame, SubscribedFrame } from './protocol';
import { openSocket, type WebSocketConstructor } from './socket';
import { StreamTracker } from './streams';
import { TopicSubscription } from './subscription';
import type { ClientEvents, ClientOptions, ClientState, SubscribeOptions, Subscription, TopicEvent, WsNotifyClient } from './types';

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

/** A frame the application is handed. */
type Delivery = NotificationFrame | EventFrame;

type HandingOver = Extract<Phase, { name: 'handing over' }>;

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

/**
 * The client's state machine (phase.ts, drawn in docs/client.md): every phase change goes through
 * `#transition`, which ends what the phase left behind (its timer, the sockets the next phase does
 * not hold). The other timers are the client's (the ack batch) or its stream tracker's, on the
 * injected clock; `close()` clears them all.
 */
class Client extends Emitter<ClientEvents> implements WsNotifyClient {
  #phase: Phase = { name: 'connecting' };
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
  readonly #ackTimer: Timer;
  /** Connection attempts since the last stable connection: the backoff's exponent. */
  #attempts = 0;
  #nextId = 0;
  #token?: { value: string; obtainedAt: number; expiresAt?: number };
  #refreshUnsupported = false;

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
    this.#attempt('connecting');
  }

  /** The phase as the application sees it: a handover is `open`, since the session carries on throughout. */
  get state(): ClientState {
    const { name } = this.#phase;
    return name === 'handing over' ? 'open' : name;
  }

  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    let subscription = this.#subscriptions.get(topic);
    if (subscription === undefined) {
      subscription = new TopicSubscription(topic, options, (ended) => this.#unsubscribe(ended));
      this.#subscriptions.set(topic, subscription);
    } else {
      subscription.options = options;
    }
    // A filter or a group receives part of the topic's stream: its seqs have holes by design.
    this.#tracker.setSparse(`topic:${topic}`, options.events !== undefined || options.group !== undefined);
    // Also on a handover's successor, whose session began before this subscription.
    for (const connection of connectionsOf(this.#phase)) if (connection.open) void this.#sendSubscribe(connection, subscription);
    return subscription;
  }

  publish(topic: string, event: ClientEvent): Promise<PublishedFrame> {
    // An id of the client's own, so that a publish sent again after a lost connection is recognisable as a repeat.
    const entry = { topic, event: { ...event, id: event.id ?? randomId() } };
    return new Promise<PublishedFrame>((resolve, reject) => {
      if (this.#phase.name === 'closed') return reject(closedError());
      const queued: OutboxEntry = { ...entry, resolve, reject };
      const session = this.#session();
      if (session !== undefined) return this.#sendPublish(session, queued);
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
    const phase = this.#phase;
    if (phase.name === 'closed') return phase.closing;
    this.#flushAcks();
    return this.#stop(closedError());
  }

  // ---- the machine ----

  /** The one transition: `next` replaces the phase, what the phase held and `next` does not ends, and the application hears of a new state. */
  #transition(next: Phase): void {
    const before = this.state;
    const left = leave(this.#phase, next);
    this.#phase = next;
    for (const connection of left) this.#end(connection);
    if (this.state !== before) this.emit('state', this.state);
  }

  /** The open connection that carries the session: the active one, also while a successor opens. */
  #session(): Connection | undefined {
    const phase = this.#phase;
    return (phase.name === 'open' || phase.name === 'handing over') && phase.connection.open ? phase.connection : undefined;
  }

  /** Waits `delay` in `name`, then tries a new connection. */
  #retry(name: 'connecting' | 'reconnecting', delay: number): void {
    const retry = new Timer(this.#clock);
    // Set before the transition, whose listeners may close the client: then the transition to closed clears it.
    retry.set(() => this.#attempt(name), delay);
    this.#transition({ name, timer: retry });
  }

  #backoff(): number {
    return backoffDelay(this.#attempts++, this.#settings.baseDelayMs, this.#settings.maxDelayMs, this.#random);
  }

  #attempt(name: 'connecting' | 'reconnecting'): void {
    const connection = new Connection(this.#clock);
    this.#transition({ name, connection });
    void this.#connect(connection);
  }

  /** Before the server's lifetime cap: a successor opens, subscribes and resumes, then the connection closes. No gap, and duplicates are dropped. */
  #handover(): void {
    const phase = this.#phase;
    if (phase.name !== 'open') return;
    const successor = new Connection(this.#clock);
    this.#transition({ name: 'handing over', connection: phase.connection, successor, timer: new Timer(this.#clock) });
    void this.#connect(successor);
  }

  /** Fetches the token of a connection its phase holds, then opens its socket. */
  async #connect(connection: Connection): Promise<void> {
    let token: { value: string; fresh: boolean } | undefined;
    try {
      token = await this.#tokenForConnect();
    } catch (error) {
      if (!connectionsOf(this.#phase).includes(connection)) return;
      this.#tokenFailed(error);
      const phase = this.#phase;
      // A handover that cannot start leaves the connection to the server's close; any other phase tries again later.
      if (phase.name === 'handing over' && phase.successor === connection) this.#carryOn(phase);
      else if (phase.name === 'connecting' || phase.name === 'reconnecting') this.#retry(phase.name, this.#backoff());
      return;
    }
    if (!connectionsOf(this.#phase).includes(connection)) return;
    connection.freshToken = token?.fresh ?? false;
    try {
      connection.socket = openSocket(this.#WebSocketClass, this.#url, this.#credential, token?.value, {
        open: () => this.#onOpen(connection),
        message: (text) => this.#onMessage(connection, text),
        close: (refusedStatus) => this.#onClose(connection, refusedStatus),
      });
    } catch (error) {
      // A URL the WebSocket class refuses: no retry fixes it.
      this.#stop(new WsNotifyError('upgrade_refused', `cannot open ${this.#url}: ${String(error)}`, true, { cause: error }), true);
      return;
    }
    connection.deadline.set(() => this.#drop(connection), this.#settings.requestTimeoutMs);
  }

  #onOpen(connection: Connection): void {
    const phase = this.#phase;
    if (!connectionsOf(phase).includes(connection)) return;
    connection.deadline.clear();
    connection.open = true;
    connection.openedAt = connection.lastSent = connection.lastReceived = this.#clock.now();
    if (phase.name === 'handing over') void this.#completeHandover(phase);
    else this.#opened(connection, true);
  }

  /** `connection` carries the session from now on: `session`, unless a handover's successor already began it. */
  #opened(connection: Connection, session: boolean): void {
    const handover = new Timer(this.#clock);
    const phase: Phase = { name: 'open', connection, timer: handover };
    this.#transition(phase);
    // A listener of 'state' may have closed the client.
    if (this.#phase !== phase) return;
    if (session) void this.#startSession(connection);
    this.#heartbeat(connection);
    const lead = Math.min(60_000, this.#settings.maxConnectionMs / 10);
    handover.set(() => this.#handover(), connection.openedAt + this.#settings.maxConnectionMs - lead - this.#clock.now());
    this.#scheduleRefresh(connection);
    this.#flushOutbox(connection);
    this.#flushAcks();
  }

  /** The successor takes over once the server answered its session (or within the deadline), and the connection closes. */
  async #completeHandover(phase: HandingOver): Promise<void> {
    const { successor, timer: deadline } = phase;
    await Promise.race([this.#startSession(successor), new Promise<void>((resolve) => deadline.set(resolve, this.#settings.requestTimeoutMs)), successor.closed]);
    if (this.#phase === phase) this.#opened(successor, false);
  }

  /** The handover failed: the connection carries on, and is replaced when the server closes it. */
  #carryOn(phase: HandingOver): void {
    this.#transition({ name: 'open', connection: phase.connection });
  }

  #onClose(connection: Connection, refusedStatus?: number): void {
    connection.open = false;
    delete connection.socket;
    connection.clearTimers();
    connection.markClosed();
    for (const resolve of connection.resumeWaiters.values()) resolve();
    this.#settlePending(connection);
    const phase = this.#phase;
    if (phase.name === 'handing over') {
      if (connection === phase.successor) return this.#carryOn(phase);
      if (connection !== phase.connection) return;
      // The server closed the connection while its successor was opening: the successor takes over, with no backoff.
      this.#resuming.clear();
      if (phase.successor.open) return this.#opened(phase.successor, false);
      return this.#transition({ name: 'reconnecting', connection: phase.successor });
    }
    if (phase.name === 'closed' || phase.connection !== connection) return;
    this.#resuming.clear();
    const refusal = this.#refusal(connection, refusedStatus);
    if (refusal !== undefined) return void this.#stop(refusal, true);
    if (connection.openedAt > 0 && this.#clock.now() - connection.openedAt >= this.#settings.stableAfterMs) this.#attempts = 0;
    // After an expiry, or a refusal of a token the cache held, a fresh token is tried at once.
    const fresh = connection.expired || (refusedStatus === 403 && this.#credential.kind === 'token');
    if (fresh) this.#token = undefined;
    this.#retry('reconnecting', fresh ? 0 : this.#backoff());
  }

  /** The refusals a retry cannot fix. */
  #refusal(connection: Connection, status: number | undefined): WsNotifyError | undefined {
    if (status === 401) return new WsNotifyError('upgrade_refused', 'HTTP 401: the stack wants a credential', true, { status });
    if (status !== 403) return undefined;
    if (this.#credential.kind === 'token' && !connection.freshToken) return undefined;
    const what = this.#credential.kind === 'apiKey' ? 'the API key is revoked, expired or unknown' : 'the credential does not verify';
    return new WsNotifyError('upgrade_refused', `HTTP 403: ${what}`, true, { status });
  }

  /** Ends the client: no reconnect, every request and publish fails with `error`, every socket closes. */
  #stop(error: WsNotifyError, report = false): Promise<void> {
    const phase = this.#phase;
    if (phase.name === 'closed') return phase.closing;
    const closing = Promise.all(connectionsOf(phase).map((connection) => connection.closed)).then(() => undefined);
    this.#transition({ name: 'closed', closing });
    this.#ackTimer.clear();
    this.#tracker.dispose();
    for (const entry of this.#outbox.splice(0)) entry.reject(error);
    this.#settlePending(undefined, error);
    if (report) this.emit('error', error);
    return closing;
  }

  /** Closes a connection no phase holds any more; a server that does not answer the close handshake is cut off. */
  #end(connection: Connection): void {
    connection.clearTimers();
    if (connection.socket === undefined) return connection.markClosed();
    connection.socket.close(1000);
    connection.deadline.set(() => this.#drop(connection), CLOSE_TIMEOUT_MS);
  }

  /** A socket that stopped answering (or never completed its upgrade, or its close): cut off, and handled as closed. */
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
    const id = 'id' in frame && frame.id !== undefined ? String(frame.id) : '';
    const request = this.#pending.get(id);
    if (request !== undefined && request.connection === connection) {
      this.#pending.delete(id);
      this.#clock.clearTimeout(request.timer);
      if (frame.type === 'error') request.reject(new WsNotifyError(frame.code, frame.message));
      else request.resolve(frame);
    }
    switch (frame.type) {
      case 'notification':
      case 'event':
        return this.#receive(frame);
      case 'resumed':
        return this.#onResumed(connection, frame);
      case 'unsubscribed':
        if (frame.reason === undefined) return;
        return this.#ended(this.#subscriptions.get(frame.topic), new WsNotifyError('grant_revoked', `the refreshed credential no longer covers "${frame.topic}"`));
      case 'error':
        if (request === undefined) this.#onServerError(connection, new WsNotifyError(frame.code, frame.message));
        return;
      default:
        return;
    }
  }

  #onServerError(connection: Connection, error: WsNotifyError): void {
    if (error.code === 'credential_revoked') {
      return void this.#stop(new WsNotifyError('credential_revoked', `${error.message}: connect with another credential`, true), true);
    }
    if (error.code === 'credential_expired') {
      connection.expired = true;
      this.#token = undefined;
      return;
    }
    this.emit('error', error);
  }

  #receive(frame: Delivery): void {
    const { stream, seq, epoch } = frame;
    if (stream !== undefined && seq !== undefined && epoch !== undefined) return this.#tracker.accept(stream, epoch, seq, frame);
    // No position (a stack without history, a NotifyConnection send): drop only an exact repeat.
    const key = frame.type === 'notification' ? `n:${frame.id}` : `e:${frame.topic}:${String(frame.event['wsnpublisher'])}:${frame.event.source}:${frame.event.id}`;
    if (this.#recentKeys.has(key)) return;
    this.#recentKeys.add(key);
    if (this.#recentKeys.size > RECENT_KEYS) this.#recentKeys.delete(this.#recentKeys.values().next().value as string);
    this.#deliver(frame);
  }

  #deliver(frame: Delivery, stream?: string, seq?: number): void {
    // Only the user stream is acked: a topic's is shared by every subscriber, and the server keeps no per-user ack of it.
    if (stream === 'user' && seq !== undefined) this.#countAck(stream, seq);
    const position = { ...(stream !== undefined && { stream }), ...(seq !== undefined && { seq }), ...(frame.replay === true && { replay: true }) };
    if (frame.type === 'notification') {
      const { id, time, data } = frame;
      return this.emit('notification', { id, time, data, ...position });
    }
    const event: TopicEvent = { topic: frame.topic, event: frame.event, ...position };
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
    subscription.to('subscribing');
    return this.#request<SubscribedFrame>(connection, frame).then(
      (reply) => {
        // Unless it ended meanwhile.
        if (subscription.to('subscribed')) subscription.emit('subscribed', reply);
        return resumed;
      },
      (error: WsNotifyError) => {
        if (!lostWithConnection(error) && error.code !== 'timeout') this.#ended(subscription, error);
      },
    );
  }

  #resume(connection: Connection, stream: string, position: ResumePosition): Promise<void> {
    const resumed = this.#awaitResumed(connection, stream);
    this.#resuming.add(stream);
    this.#request(connection, { action: 'resume', streams: { [stream]: position } }).catch((error: WsNotifyError) => {
      if (lostWithConnection(error)) return;
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
    const session = this.#session();
    if (this.#resuming.has(stream) || position === undefined || session === undefined) return;
    void this.#resume(session, stream, position);
  }

  #unsubscribe(subscription: TopicSubscription): Promise<void> {
    const session = this.#session();
    if (!this.#forget(subscription) || session === undefined) return Promise.resolve();
    return this.#request(session, { action: 'unsubscribe', topic: subscription.topic }).then(
      () => undefined,
      (error: WsNotifyError) => {
        // Disconnected meanwhile: the subscription ended with the connection.
        if (!lostWithConnection(error)) throw error;
      },
    );
  }

  /** The server refused or ended a subscription. */
  #ended(subscription: TopicSubscription | undefined, error: WsNotifyError): void {
    if (subscription === undefined || !this.#forget(subscription)) return;
    // Told on the subscription and on the client, so that an application listening on either learns it.
    subscription.emit('error', error);
    this.emit('error', error);
  }

  /** Ends a subscription and forgets its topic's stream; false if it had ended already. */
  #forget(subscription: TopicSubscription): boolean {
    if (!subscription.to('unsubscribed')) return false;
    const stream = `topic:${subscription.topic}`;
    this.#subscriptions.delete(subscription.topic);
    this.#tracker.forget(stream);
    this.#tracker.setSparse(stream, false);
    this.#unacked.delete(stream);
    return true;
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
  #settlePending(connection?: Connection, error = new WsNotifyError('connection_lost', 'the connection closed before the reply')): void {
    const requeued: (() => void)[] = [];
    for (const [id, request] of this.#pending) {
      if (connection !== undefined && request.connection !== connection) continue;
      this.#pending.delete(id);
      this.#clock.clearTimeout(request.timer);
      if (request.lost !== undefined && this.#phase.name !== 'closed') requeued.push(request.lost);
      else request.reject(error);
    }
    // In their original order, ahead of publishes made since.
    for (const requeue of requeued.reverse()) requeue();
    const session = this.#session();
    if (requeued.length > 0 && session !== undefined) this.#flushOutbox(session);
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
    const connection = this.#session();
    if (connection === undefined) return;
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

  /** Before the token expires (`retry`: a little later, while it still holds), a fresh one goes over the connection that carries the session. */
  #scheduleRefresh(connection: Connection, retry = false): void {
    const token = this.#token;
    const now = this.#clock.now();
    if (this.#refreshUnsupported || token?.expiresAt === undefined || this.#session() !== connection || (retry && token.expiresAt <= now)) return;
    const delay = retry ? Math.min(RETRY_REFRESH_MS, (token.expiresAt - now) / 2) : refreshTime(token.obtainedAt, token.expiresAt) - now;
    connection.refresh.set(() => void this.#refresh(connection), delay);
  }

  /** Sends a fresh token over the connection that carries the session, so that it is never closed for expiry. */
  async #refresh(connection: Connection): Promise<void> {
    const credential = this.#credential;
    if (this.#session() !== connection || credential.kind !== 'token') return;
    let token: string;
    try {
      token = await this.#fetchToken(credential.token);
    } catch (error) {
      this.#tokenFailed(error);
      return this.#scheduleRefresh(connection, true);
    }
    if (this.#session() !== connection) return;
    try {
      await this.#request(connection, { action: 'authenticate', token });
      this.#scheduleRefresh(connection);
    } catch (error) {
      const failure = error as WsNotifyError;
      if (lostWithConnection(failure)) return;
      if (failure.code === 'jwt_not_enabled') this.#refreshUnsupported = true;
      this.emit('error', failure);
      this.#scheduleRefresh(connection, true);
    }
  }
}

const closedError = () => new WsNotifyError('client_closed', 'the client is closed');

/** A request that failed only because its connection (or the client) closed: nothing the application has to hear of. */
/**
 * The frame went with its connection: the connection dropped before the reply, the client closed,
 * or the server answered that the connection is closing (a subscribe racing its connection's end).
 * What a session re-sends (subscribes, resumes) goes again on the next connection.
 */
const lostWithConnection = (error: WsNotifyError) =>
  error.code === 'connection_lost' || error.code === 'client_closed' || error.code === 'connection_closed';

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
