/** How the client proves who it is: a token function (JWT, refreshed), an API key, or nothing. */
export type Credential = { kind: 'token'; token: () => string | Promise<string> } | { kind: 'apiKey'; apiKey: string } | { kind: 'anonymous' };

/** A token's `exp` in epoch milliseconds, read without verifying (the server verifies); undefined if it has none. */
export function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    // atob's forgiving base64 takes the JWT's unpadded form; only base64url's two letters differ.
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const { exp } = JSON.parse(json) as { exp?: unknown };
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When to refresh a token obtained at `obtainedAt` that expires at `expiresAt`: a quarter of its
 * life early, at least a second and at most a minute, since the server closes it within a second
 * or so of `exp`.
 */
export function refreshTime(obtainedAt: number, expiresAt: number): number {
  const lead = Math.min(60_000, Math.max(1_000, (expiresAt - obtainedAt) / 4));
  return expiresAt - lead;
}
