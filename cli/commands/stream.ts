import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { type ClientOptions, createClient, type ResumePosition, type WsNotifyError } from '../../client/src';
import { type HelpCommandLine, parseOptions, required, type TargetOptions, targetOf, UsageError } from '../options';
import { CommandError, localIssuer, type Target } from '../target';
import { TARGET_HELP } from '../usage';

const STREAM_USAGE = `Usage: ws-notify stream [<topic>] (--user <id> | --token <jwt> | --apikey <key> | --anonymous) [--topic <t>] [--events <a,b>] [--group <g>] [--resume <file>] [target]

Connects with the client SDK (@ws-notify/client) and prints, one JSON line each, every
notification and topic event received, the subscription's reply, and where streams are kept,
what a resume recovered ({"type":"recovered"}) or could not ({"type":"gap"}). Like any SDK
client it reconnects (saying so on stderr), subscribes again, resumes, refreshes a locally
minted token, and pings when idle. It runs until interrupted (Ctrl-C, exit code 0) or until
the server refuses it in a way no reconnect fixes (a revoked key, a token that does not
verify: exit code 1, with the reason on stderr).

Options:
  <topic>, --topic <t>  also subscribe to the topic (the local issuer's token grants it; a real
                        credential needs it in its topics grant, unless the topic is public)
  --user <id>           the user to connect as; on the local runtime, a token is minted for it
  --token <jwt>         the token to connect with (a deployed stack needs it, or --apikey)
  --apikey <key>        connect with an API key (\`ws-notify apikey create\`), as its user
  --anonymous           connect with no credential (stacks that allow anonymous connections)
  --events <a,b>        only these event types (order.* for a prefix)
  --group <g>           share the topic's events with the group's other members
  --resume <file>       keep the last position of each stream in this JSON file, and resume
                        from it on the next run: what was sent meanwhile is printed first
                        (stacks that keep streams; the file belongs to one user)

${TARGET_HELP}`;

export type StreamCommandLine = {
  command: 'stream';
  target: TargetOptions;
  userId?: string;
  token?: string;
  apiKey?: string;
  anonymous?: true;
  subscription?: { topic: string; events?: string[]; group?: string };
  resumeFile?: string;
};

export function parseStream(args: string[]): StreamCommandLine | HelpCommandLine {
  const values = parseOptions(args, STREAM_USAGE, ['user', 'token', 'apikey', 'topic', 'events', 'group', 'resume'], { positionals: 1, flags: ['anonymous'] });
  if (values.help) return { command: 'help', text: STREAM_USAGE };
  const [positionalTopic] = values.positionals;
  if (positionalTopic !== undefined && values.topic !== undefined) throw new UsageError('name the topic once: as <topic> or with --topic', STREAM_USAGE);
  const topic = positionalTopic ?? values.topic;
  const byUser = values.user !== undefined || values.token !== undefined;
  const credentials = [byUser, values.apikey !== undefined, values.anonymous === true].filter(Boolean).length;
  if (credentials === 0) {
    throw new UsageError('stream needs --user (a token is minted for it locally), --token, --apikey or --anonymous', STREAM_USAGE);
  }
  if (credentials > 1) throw new UsageError('stream connects with one credential: --user/--token, --apikey or --anonymous', STREAM_USAGE);
  if (topic === undefined && (values.events !== undefined || values.group !== undefined)) {
    throw new UsageError('--events and --group go with a topic', STREAM_USAGE);
  }
  const events = values.events?.split(',').map((type) => type.trim()).filter((type) => type.length > 0);
  return {
    command: 'stream',
    target: targetOf(values),
    ...(values.user !== undefined && { userId: required(values.user, '--user', STREAM_USAGE) }),
    ...(values.token !== undefined && { token: required(values.token, '--token', STREAM_USAGE) }),
    ...(values.apikey !== undefined && { apiKey: required(values.apikey, '--apikey', STREAM_USAGE) }),
    ...(values.anonymous === true && { anonymous: true }),
    ...(values.resume !== undefined && { resumeFile: required(values.resume, '--resume', STREAM_USAGE) }),
    ...(topic !== undefined && {
      subscription: {
        topic: required(topic, 'the topic', STREAM_USAGE),
        ...(events !== undefined && events.length > 0 && { events }),
        ...(values.group !== undefined && { group: required(values.group, '--group', STREAM_USAGE) }),
      },
    }),
  };
}

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
