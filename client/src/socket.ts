import type { Credential } from './credentials';

/**
 * The browser's WebSocket as the client uses it; `ws` (Node) and Node 22's global WebSocket have the same shape.
 * The handlers take `any` events so that each implementation's own event classes fit.
 */
export interface WebSocketLike {
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket`, or `ws`'s, which also takes headers. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

/** What `ws` adds: the HTTP answer of a refused upgrade, and a close without a handshake. */
interface NodeWebSocket extends WebSocketLike {
  on(event: 'unexpected-response', listener: (request: unknown, response: { statusCode?: number }) => void): void;
  terminate(): void;
}

export const SUBPROTOCOL = 'ws-notify.v1';

export interface SocketEvents {
  open(): void;
  message(text: string): void;
  /** `refusedStatus`: the HTTP status of a refused upgrade, where the WebSocket implementation tells (`ws` does, browsers do not). */
  close(refusedStatus?: number): void;
}

/** One WebSocket with its events in one place; `drop()` cuts it off with no further events. */
export interface Socket {
  send(frame: object): void;
  close(code: number): void;
  drop(): void;
}

/**
 * Opens a socket with the credential where the implementation can carry it: `ws` takes headers
 * (kept out of URLs and logs); a browser can only use the subprotocol (a JWT) or the query (an API key).
 */
export function openSocket(WebSocketClass: WebSocketConstructor, url: string, credential: Credential, token: string | undefined, events: SocketEvents): Socket {
  const takesHeaders = typeof (WebSocketClass.prototype as Partial<NodeWebSocket> | undefined)?.terminate === 'function';
  const protocols = [SUBPROTOCOL];
  const headers: Record<string, string> = {};
  let target = url;
  if (credential.kind === 'token' && token !== undefined) {
    if (takesHeaders) headers['Authorization'] = `Bearer ${token}`;
    else protocols.push(`bearer.${token}`);
  } else if (credential.kind === 'apiKey') {
    if (takesHeaders) headers['x-api-key'] = credential.apiKey;
    else target = `${url}${url.includes('?') ? '&' : '?'}apikey=${encodeURIComponent(credential.apiKey)}`;
  }
  const socket = takesHeaders ? new WebSocketClass(target, protocols, { headers }) : new WebSocketClass(target, protocols);
  let refusedStatus: number | undefined;
  let live = true;
  if (takesHeaders) {
    (socket as NodeWebSocket).on('unexpected-response', (_request, response) => {
      refusedStatus = response.statusCode;
      (socket as NodeWebSocket).terminate();
    });
  }
  socket.onopen = () => live && events.open();
  socket.onmessage = ({ data }: { data: unknown }) => {
    if (live && typeof data === 'string') events.message(data);
  };
  // A failed upgrade reports an error, then a close: the close carries what happened.
  socket.onerror = () => undefined;
  socket.onclose = () => {
    if (!live) return;
    live = false;
    events.close(refusedStatus);
  };
  return {
    send: (frame) => socket.send(JSON.stringify(frame)),
    close: (code) => socket.close(code),
    drop: () => {
      live = false;
      if (takesHeaders) (socket as NodeWebSocket).terminate();
      else socket.close(4000);
    },
  };
}
