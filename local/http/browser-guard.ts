import type { IncomingMessage } from 'node:http';

// The runtime listens on 127.0.0.1 only, but a browser on this machine is a way in from any web page:
// a page may send requests to 127.0.0.1 itself (cross-origin), and a name its author controls may be
// made to resolve to 127.0.0.1 (DNS rebinding), which makes that page same-origin with whatever it
// reaches. These checks refuse both, while SDKs, the CLI, curl and the test page pass.

/** The names that only ever mean this machine. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** `name:port` for each loopback name (and the bare name on port 80, where clients leave the port out). */
function loopbackHosts(port: number | undefined): string[] {
  return LOOPBACK_NAMES.flatMap((name) => (port === 80 ? [name, `${name}:80`] : [`${name}:${port}`]));
}

/**
 * Why the request's `Host` is not a loopback name with the port it arrived on, or undefined if it is.
 * A rebinding page sends its own name (`attacker.example:3001`); no other client does.
 */
export function foreignHostOf(request: IncomingMessage): string | undefined {
  const hosts = loopbackHosts(request.socket.localPort);
  const host = request.headers.host;
  if (host !== undefined && hosts.includes(host.toLowerCase())) return undefined;
  return `Host ${host === undefined ? '(none)' : JSON.stringify(host)} is refused: the local runtime answers only requests to ${hosts.join(', ')}`;
}

/**
 * Why the request's `Host` does not name this machine (a loopback name, on any port), or undefined
 * if it does: an engine's door, which a client may reach through a port forwarder or a TCP proxy of
 * its own (its `Host` then names that port), refuses what a rebinding page sends, its own name.
 */
export function foreignHostNameOf(request: IncomingMessage): string | undefined {
  const host = request.headers.host?.toLowerCase();
  // A name (or a bracketed IPv6 address) and an optional port, nothing else.
  const name = host === undefined ? undefined : /^(\[[^\]]*\]|[^:[\]]*)(?::\d+)?$/.exec(host)?.[1];
  if (name !== undefined && LOOPBACK_NAMES.includes(name)) return undefined;
  return `Host ${host === undefined ? '(none)' : JSON.stringify(host)} is refused: the local runtime's engines answer only requests to ${LOOPBACK_NAMES.join(', ')}`;
}

/**
 * Why the request comes from a page of another origin than the runtime's own, or undefined if not.
 * Browsers send `Origin` on every cross-origin request that can change anything; SDKs and the CLI
 * send none. `Origin: null` (a sandboxed frame, a file) is another origin too.
 */
export function foreignOriginOf(request: IncomingMessage): string | undefined {
  const origin = request.headers.origin;
  // The port speaks TLS too (http/tls.ts): its pages may be loaded over https.
  const origins = loopbackHosts(request.socket.localPort).flatMap((host) => [`http://${host}`, `https://${host}`]);
  if (origin === undefined || origins.includes(origin.toLowerCase())) return undefined;
  return `Origin ${origin} is refused: the local runtime serves pages of its own origin only (${origins.join(', ')})`;
}

/**
 * Whether the body is declared JSON. A page of another origin can send `text/plain`, a form or
 * `multipart/form-data` without a CORS preflight, never `application/json`.
 */
export function declaresJson(request: IncomingMessage): boolean {
  const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/**
 * The access key of a request signed with Signature Version 4 (its signature is not checked: there is
 * no IAM locally), or undefined. Every AWS SDK signs; a page of another origin cannot send an
 * `Authorization` header without a CORS preflight, which the runtime never allows.
 */
export function sigV4AccessKeyOf(authorization: string | undefined): string | undefined {
  return /^AWS4-HMAC-SHA256 .*Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
}
