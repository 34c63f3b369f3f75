import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { type ClientOptions, createClient, type ResumePosition, type WsNotifyError } from '../client/src';
import { CommandError, localIssuer } from './commands';
import type { Target } from './target';

/** How often `--resume` writes the positions received since the last write. */
const SAVE_POSITIONS_EVERY_MS = 1_000;

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
  apiKey?: string;
  anonymous?: boolean;
  /** Subscribe to this topic on connecting (with its filters and group), instead of only receiving the user's notifications. */
  subscription?: { topic: string; events?: string[]; group?: string };
  /** Keep the stream positions in this file, and resume from them on the next run. */
  resumeFile?: string;
}

/**
 * `stream`: connects through the client SDK, which reconnects, subscribes again and resumes, and
 * prints each notification and event (and `subscribed`, `recovered`, `gap`) as a JSON line until
 * SIGINT/SIGTERM (exit code 0) or an error no reconnect fixes (1). Status goes to stderr, so stdout
 * pipes cleanly.
 */
export async function streamFrames(target: Target, request: StreamRequest): Promise<number> {
  const url = target.outputs.WebSocketUrl;
  const credential = await credentialFor(target, request);
  const positions = request.resumeFile === undefined ? undefined : readPositions(request.resumeFile);
  const client = createClient({ url, WebSocket, ...credential, ...(positions !== undefined && { positions }) });
  const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

  return new Promise<number>((resolve, reject) => {
    let connectedOnce = false;
    let saved = JSON.stringify(positions ?? {});
    const savePositions = () => {
      if (request.resumeFile === undefined) return;
      const current = JSON.stringify(client.positions());
      if (current === saved) return;
      writePositions(request.resumeFile, current);
      saved = current;
    };
    const saver = request.resumeFile === undefined ? undefined : setInterval(savePositions, SAVE_POSITIONS_EVERY_MS);
    const finish = (outcome: () => void) => {
      process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
      process.stdout.off('error', interrupt);
      clearInterval(saver);
      void client.close().then(() => {
        savePositions();
        outcome();
      });
    };
    const interrupt = () => finish(() => resolve(0));
    process.on('SIGINT', interrupt).on('SIGTERM', interrupt);
    // A reader that went away (`| head -1`) ends the stream as an interrupt does.
    process.stdout.on('error', interrupt);

    client.on('state', (state) => {
      if (state === 'open') console.error(connectedOnce ? 'reconnected' : `connected to ${url} as ${whoConnects(request, credential)}; Ctrl-C to stop`);
      if (state === 'open') connectedOnce = true;
      if (state === 'reconnecting') console.error('the connection closed; reconnecting');
    });
    client.on('notification', (notification) => print({ type: 'notification', ...notification }));
    client.on('event', (event) => print({ type: 'event', ...event }));
    client.on('recovered', (recovered) => print({ type: 'recovered', ...recovered }));
    client.on('gap', (gap) => print({ type: 'gap', ...gap }));
    client.on('error', (error) => {
      if (!error.fatal) return console.error(`ws-notify: ${error.message}`);
      finish(() => reject(fatalError(error, url)));
    });
    if (request.subscription !== undefined) {
      const { topic, ...options } = request.subscription;
      // The reply, without the id the client tagged its subscribe with.
      client.subscribe(topic, options).on('subscribed', ({ id: _id, ...subscribed }) => print(subscribed));
    }
  });
}

function fatalError(error: WsNotifyError, url: string): Error {
  if (error.code === 'upgrade_refused' && error.status !== undefined) return new UpgradeRefusedError(error.status, url);
  return new CommandError(error.message, { cause: error });
}

type Credential = Pick<ClientOptions, 'token' | 'apiKey' | 'anonymous'>;

async function credentialFor(target: Target, request: StreamRequest): Promise<Credential> {
  const { userId, token, apiKey, anonymous, subscription } = request;
  if (apiKey !== undefined) return { apiKey };
  if (anonymous === true) return { anonymous: true };
  if (token !== undefined) {
    const subject = subjectOf(token);
    if (userId !== undefined && subject !== undefined && subject !== userId) {
      throw new CommandError(`--token is for user "${subject}", not --user "${userId}": the token decides who connects`);
    }
    return { token };
  }
  if (target.kind !== 'local' || userId === undefined) {
    throw new CommandError(`a deployed stack needs --token or --apikey: a token from your identity provider for the user, or a key from \`ws-notify apikey create\``);
  }
  // The local issuer grants the topic it is asked for; a real one decides grants itself. A fresh token for every refresh.
  const issuer = await localIssuer(target);
  return { token: () => issuer.mint({ userId, ...(subscription && { claims: { topics: [subscription.topic] } }) }) };
}

function whoConnects(request: StreamRequest, credential: Credential): string {
  if (credential.anonymous === true) return 'an anonymous user';
  if (credential.apiKey !== undefined) return 'the API key\u2019s user';
  return request.userId ?? (request.token !== undefined ? subjectOf(request.token) : undefined) ?? "the token's user";
}

/** The token's `sub`, read without verifying: only to say who connects. */
function subjectOf(token: string): string | undefined {
  try {
    return decodeJwt(token).sub;
  } catch {
    return undefined;
  }
}

/** Positions from an earlier run; none when the file does not exist yet. */
function readPositions(file: string): Record<string, ResumePosition> {
  if (!existsSync(file)) return {};
  try {
    const positions = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof positions !== 'object' || positions === null || Array.isArray(positions)) throw new TypeError('not a JSON object');
    return positions as Record<string, ResumePosition>;
  } catch (error) {
    throw new CommandError(`--resume ${file} does not hold stream positions (${(error as Error).message}): remove it to start afresh`, { cause: error });
  }
}

/** Written whole then renamed, so that a run stopped mid-write leaves the previous positions. */
function writePositions(file: string, json: string): void {
  writeFileSync(`${file}.tmp`, `${json}\n`);
  renameSync(`${file}.tmp`, file);
}

function whyRefused(status: number): string {
  if (status === 401) return 'no credential reached the authorizer';
  if (status === 403) return 'the credential does not verify: an expired token or one of another issuer or audience, or a revoked, expired or unknown API key';
  return 'the $connect route failed';
}
