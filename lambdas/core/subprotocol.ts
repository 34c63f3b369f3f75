/**
 * Browsers cannot set headers on a WebSocket upgrade, so they send the token as a subprotocol:
 * `new WebSocket(url, ['ws-notify.v1', 'bearer.<jwt>'])`. The server must then select
 * `ws-notify.v1`, or the browser drops the connection.
 */
export const SUBPROTOCOL = 'ws-notify.v1';
const BEARER_PREFIX = 'bearer.';

export function offeredSubprotocols(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol.length > 0);
}

export function bearerTokenFrom(protocols: readonly string[]): string | undefined {
  return protocols.find((protocol) => protocol.startsWith(BEARER_PREFIX))?.slice(BEARER_PREFIX.length);
}

export function selectedSubprotocol(protocols: readonly string[]): string | undefined {
  return protocols.includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined;
}
