import { type Clock, Timer } from './clock';
import type { Socket } from './socket';

/** One WebSocket and what the client tracks about it. A phase carries one; a handover, two. */
export class Connection {
  /** Undefined while its token is fetched, and again once the socket closed. */
  socket?: Socket;
  /** The upgrade completed and the socket has not closed since. */
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
  /** The upgrade, and later the close handshake, must complete before it fires. */
  readonly deadline: Timer;
  /** Sends a fresh token over this connection before the one it carries expires. */
  readonly refresh: Timer;
  readonly closed: Promise<void>;
  markClosed!: () => void;

  constructor(clock: Clock) {
    this.heartbeat = new Timer(clock);
    this.pong = new Timer(clock);
    this.deadline = new Timer(clock);
    this.refresh = new Timer(clock);
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  clearTimers(): void {
    for (const timer of [this.heartbeat, this.pong, this.deadline, this.refresh]) timer.clear();
  }
}
