import type { WebSocketConstructor, WebSocketLike } from '../src/socket';

/**
 * The server's side of a WebSocket, scripted by a test: the client under test gets a browser-shaped
 * WebSocket class whose sockets the test opens, feeds frames, refuses and closes.
 */
export class ScriptedSocket implements WebSocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  /** Every frame the client sent, parsed. */
  readonly sent: any[] = [];
  /** The close code the client closed with, once it did. */
  closedByClient?: number;
  closed = false;

  constructor(
    readonly url: string,
    readonly protocols: string[],
    readonly headers: Record<string, string> | undefined,
  ) {}

  send(data: string): void {
    if (this.closed) throw new Error('send on a closed socket');
    this.sent.push(JSON.parse(data));
  }

  close(code?: number): void {
    this.closedByClient = code;
    // The close handshake completes later, as on a real socket.
    queueMicrotask(() => this.finish(code ?? 1005));
  }

  accept(): void {
    this.onopen?.({});
  }

  /** A frame from the server. */
  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The server (or the network) closes the connection. */
  drop(code = 1006): void {
    this.finish(code);
  }

  /** Frames the client sent with this action. */
  sentOf(action: string): any[] {
    return this.sent.filter((frame) => frame.action === action);
  }

  /** Answers the client's frame `frame` (echoing its id). */
  reply(frame: { id?: unknown }, answer: object): void {
    this.push({ ...answer, id: frame.id });
  }

  protected finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.({ code, reason: '' });
  }
}

/** `ws`'s shape: headers, the HTTP status of a refused upgrade, terminate(). */
export class ScriptedNodeSocket extends ScriptedSocket {
  private refusalListener?: (request: unknown, response: { statusCode?: number }) => void;

  on(event: string, listener: (request: unknown, response: { statusCode?: number }) => void): void {
    if (event === 'unexpected-response') this.refusalListener = listener;
  }

  terminate(): void {
    this.finish(1006);
  }

  /** The upgrade is answered with an HTTP status instead of 101. */
  refuse(status: number): void {
    this.refusalListener?.({}, { statusCode: status });
  }
}

/** A WebSocket class whose sockets the test scripts; `sockets` holds them in the order the client opened them. */
export function scriptedServer<Socket extends ScriptedSocket = ScriptedSocket>(kind: 'browser' | 'node' = 'browser') {
  const sockets: Socket[] = [];
  const Base = kind === 'node' ? ScriptedNodeSocket : ScriptedSocket;
  class WebSocket extends Base {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(url, typeof protocols === 'string' ? [protocols] : (protocols ?? []), options?.headers);
      sockets.push(this as unknown as Socket);
    }
  }
  return {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    sockets,
    /** The socket opened last. */
    get latest(): Socket {
      const socket = sockets.at(-1);
      if (socket === undefined) throw new Error('no socket was opened');
      return socket;
    },
  };
}
