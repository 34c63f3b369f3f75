import { STATUS_CODES } from 'node:http';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { CommandError, localIssuer } from './commands';
import type { Target } from './target';

/** Well within API Gateway's 10-minute idle timeout, which only frames from the client reset. */
const KEEPALIVE_INTERVAL_MS = 5 * 60_000;
/** Marks the CLI's own pings, so that their pongs are not printed as if the server had sent something. */
const KEEPALIVE_ID = 'ws-notify-cli-keepalive';
/** A server that does not answer the close handshake is cut off after this long. */
const CLOSE_TIMEOUT_MS = 2_000;

/** The gateway answered the upgrade with an HTTP status instead of 101. */
export class UpgradeRefusedError extends Error {
  override readonly name = 'UpgradeRefusedError';

  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`${url} refused the connection: HTTP ${status} ${STATUS_CODES[status] ?? ''} (${whyRefused(status)})`);
  }
}

export interface StreamRequest {
  userId?: string;
  token?: string;
  /** Subscribe to this topic on connecting (with its filters and group), instead of only receiving the user's notifications. */
  subscription?: { topic: string; events?: string[]; group?: string };
}

/**
 * `stream`: connects and prints each frame as a JSON line until SIGINT/SIGTERM (exit code 0) or the
 * server closes (0 for a normal close, 1 otherwise). Status goes to stderr, so stdout pipes cleanly.
 */
export async function streamFrames(target: Target, request: StreamRequest): Promise<number> {
  const token = await tokenFor(target, request);
  const userId = request.userId ?? subjectOf(token) ?? "the token's user";
  const url = target.outputs.WebSocketUrl;
  const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });

  return new Promise<number>((resolve, reject) => {
    let interrupted = false;
    let settled = false;
    let keepalive: NodeJS.Timeout | undefined;
    const interrupt = () => {
      interrupted = true;
      socket.close(1000);
      setTimeout(() => socket.terminate(), CLOSE_TIMEOUT_MS).unref();
    };
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(keepalive);
      process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
      process.stdout.off('error', interrupt);
      finish();
    };
    process.on('SIGINT', interrupt).on('SIGTERM', interrupt);
    // A reader that went away (`| head -1`) ends the stream as an interrupt does.
    process.stdout.on('error', interrupt);

    socket.on('unexpected-response', (_request, response) => {
      settle(() => reject(new UpgradeRefusedError(response.statusCode ?? 0, url)));
      socket.terminate();
    });
    socket.on('error', (error) => {
      // Closing before the upgrade completed reports an error; the close that follows settles.
      if (!interrupted) settle(() => reject(error));
    });
    socket.on('open', () => {
      console.error(`connected to ${url} as ${userId}; Ctrl-C to stop`);
      if (request.subscription !== undefined) socket.send(JSON.stringify({ action: 'subscribe', ...request.subscription }));
      keepalive = setInterval(() => socket.send(JSON.stringify({ action: 'ping', id: KEEPALIVE_ID })), KEEPALIVE_INTERVAL_MS);
    });
    socket.on('message', (data) => {
      const frame = parseFrame(data.toString());
      if (isKeepalivePong(frame)) return;
      process.stdout.write(`${JSON.stringify(frame)}\n`);
    });
    socket.on('close', (code, reason) => {
      settle(() => {
        if (interrupted) return resolve(0);
        console.error(`the server closed the connection: ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`);
        resolve(code === 1000 ? 0 : 1);
      });
    });
  });
}

async function tokenFor(target: Target, { userId, token, subscription }: StreamRequest): Promise<string> {
  if (token !== undefined) {
    const subject = subjectOf(token);
    if (userId !== undefined && subject !== undefined && subject !== userId) {
      throw new CommandError(`--token is for user "${subject}", not --user "${userId}": the token decides who connects`);
    }
    return token;
  }
  if (target.kind !== 'local' || userId === undefined) {
    throw new CommandError(`a deployed stack needs --token: a token from your identity provider for the user`);
  }
  // The local issuer grants the topic it is asked for; a real one decides grants itself.
  return (await localIssuer(target)).mint({ userId, ...(subscription && { claims: { topics: [subscription.topic] } }) });
}

/** The token's `sub`, read without verifying: only to say who connects. */
function subjectOf(token: string): string | undefined {
  try {
    return decodeJwt(token).sub;
  } catch {
    return undefined;
  }
}

function parseFrame(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isKeepalivePong(frame: unknown): boolean {
  const { type, id } = (frame ?? {}) as { type?: unknown; id?: unknown };
  return type === 'pong' && id === KEEPALIVE_ID;
}

function whyRefused(status: number): string {
  if (status === 401) return 'no token reached the authorizer';
  if (status === 403) return 'the token does not verify: expired, another issuer or audience, or a key the issuer does not publish';
  return 'the $connect route failed';
}
