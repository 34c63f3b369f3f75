import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { JWTPayload } from 'jose';
import { API_KEY_SCOPES, type ApiKeyScope, checkNewApiKey, type NewApiKey } from '../lambdas/core/api-keys';
import { isAnonymousUserId } from '../lambdas/core/auth';
import { autoSubscribeFrom, grantFrom, groupGrantFrom, PublishMessage, reservedAttributeProblem } from '../lambdas/core/topics';
import {
  InvalidMessageError,
  NotifyConnectionMessage,
  NotifyUserMessage,
  parseMessage,
} from '../lambdas/core/messages';
import { HELP as LOCAL_USAGE, type StartOptions, startOptionsFrom } from '../local/start-options';

/** A command line that cannot be run as given; the CLI prints `message`, then `usage`, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** Which stack a command acts on (see `resolveTarget`). */
export interface TargetOptions {
  outputsFile?: string;
  stackName?: string;
}

/** A notification as it goes on its queue, named by the stack output that holds the queue's URL. */
export type Notification =
  | { queue: 'NotifyUserQueueUrl'; message: NotifyUserMessage }
  | { queue: 'NotifyConnectionQueueUrl'; message: NotifyConnectionMessage };

export type CommandLine =
  | { command: 'help'; text: string }
  | { command: 'local'; options: StartOptions }
  | { command: 'token'; target: TargetOptions; userId: string; ttlSeconds?: number; claims?: JWTPayload }
  | { command: 'send'; target: TargetOptions; notification: Notification }
  | {
      command: 'stream';
      target: TargetOptions;
      userId?: string;
      token?: string;
      apiKey?: string;
      anonymous?: true;
      subscription?: { topic: string; events?: string[]; group?: string };
      resumeFile?: string;
    }
  | { command: 'publish'; target: TargetOptions; message: PublishMessage }
  | { command: 'connections'; target: TargetOptions; userId: string }
  | { command: 'history'; target: TargetOptions; stream: StreamName; limit: number }
  | { command: 'streams'; target: TargetOptions; userId: string; tenant?: string }
  | { command: 'apikey create'; target: TargetOptions; key: NewApiKey }
  | { command: 'apikey list'; target: TargetOptions; userId: string }
  | { command: 'apikey revoke'; target: TargetOptions; keyId: string }
  | { command: 'dlq list'; target: TargetOptions; queues: DeadLetterQueueName[]; max: number }
  | { command: 'dlq redrive'; target: TargetOptions; queues: DeadLetterQueueName[]; wait: boolean }
  | { command: 'dlq purge'; target: TargetOptions; queues: DeadLetterQueueName[]; yes: boolean };

/** A stream as the CLI names it: a user's, or a topic's (each in a tenant, in a multi-tenant stack). */
export type StreamName = ({ userId: string } | { topic: string }) & { tenant?: string };

/** `history` prints at most this many entries unless `--limit` says otherwise. */
export const DEFAULT_HISTORY_LIMIT = 20;
const MAX_HISTORY_LIMIT = 10_000;

/** The queues that have a dead-letter queue, as `dlq --queue` names them. */
export const DEAD_LETTER_QUEUE_NAMES = ['notify-user', 'notify-connection', 'publish'] as const;
export type DeadLetterQueueName = (typeof DEAD_LETTER_QUEUE_NAMES)[number];

const TARGET_HELP = `Target (every command but local):
  --outputs <file>   the outputs of \`cdk deploy --outputs-file\`, or a local runtime's outputs.json
                     (default: .local/outputs.json, the local runtime \`npm start\` runs)
  --stack <name>     the stack in that file, where it has several; without --outputs, a deployed
                     stack whose outputs are read with CloudFormation (AWS credentials and region
                     from the environment)
  -h, --help         this help`;

export const USAGE = `Usage: ws-notify <command> [options]

Runs a CDK app on this machine, and talks to a ws-notify stack: the local runtime (\`ws-notify
local\`, or \`npm start\` in this repository) or a deployed one.

Commands:
  local         run a CDK app on this machine (ws-notify's stack or any other) until Ctrl-C
  token         mint a token for a user from the local runtime's issuer
  send          notify a user, or one connection, through the queues
  stream        connect as a user and print every frame received (or a topic's events)
  publish       publish a CloudEvent to a topic's subscribers
  connections   list a user's open connections
  history       print the entries a user's or a topic's stream retains
  streams       show a user's stream: its last seq, acked seq and unacked count
  apikey        create, list and revoke API keys
  dlq           list, redrive and purge the dead-lettered messages

${TARGET_HELP}

\`ws-notify <command> --help\` describes a command.`;

const TOKEN_USAGE = `Usage: ws-notify token --user <id> [--ttl <seconds>] [--claims <json>] [target]

Prints a token (a JWT) that the local runtime's authorizer accepts for the user. A deployed
stack trusts your identity provider, which issues its tokens.

Options:
  --user <id>         the user: the token's sub
  --ttl <seconds>     how long the token is valid (default 3600; --ttl=-60 mints an expired one)
  --claims <json>     further claims, a JSON object; sub, iss, aud, iat and exp are the issuer's

${TARGET_HELP}`;

const SEND_USAGE = `Usage: ws-notify send (--user <id> [--tenant <t>] | --connection <id>) --data <json> [target]

Enqueues a notification, as a backend does: {"userId","data"} on the NotifyUser queue reaches
every open connection of the user; {"connectionId","data"} on the NotifyConnection queue reaches
that connection. Prints the SQS message id, which is also the notification's id.

Options:
  --user <id>          the user to notify
  --tenant <t>         the user's tenant: required where the stack has a tenantClaim, refused where not
  --connection <id>    the connection to notify (\`ws-notify connections\` lists them)
  --data <json>        the notification's data: any JSON value, e.g. '{"text":"hi"}' or '"hi"'

${TARGET_HELP}`;

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

const PUBLISH_USAGE = `Usage: ws-notify publish --topic <t> --type <type> [--data <json>] [--subject <s>] [--source <uri>] [--tenant <t>] [target]

Publishes a CloudEvent to the topic's subscribers, as a backend does: {"topic","event"} on the
Publish queue. Prints the event's id.

Options:
  --topic <t>      the topic
  --type <type>    the event's type, e.g. order.created
  --data <json>    the event's data: any JSON value (default: none)
  --subject <s>    the event's subject
  --source <uri>   the event's source (default: ws-notify-cli)
  --tenant <t>     the topic's tenant: required where the stack has a tenantClaim, refused where not

${TARGET_HELP}`;

const CONNECTIONS_USAGE = `Usage: ws-notify connections --user <id> [target]

Lists the user's open connections, one JSON line each: the connection id, when it connected,
when it was last active and where from. A connection the table still lists but API Gateway no
longer knows is shown with "gone": true.

Options:
  --user <id>   the user

${TARGET_HELP}`;

const HISTORY_USAGE = `Usage: ws-notify history (--user <id> | --topic <t>) [--tenant <t>] [--limit <n>] [target]

Prints the newest entries the stream still keeps (of its current epoch, not expired), oldest
first, one JSON line each: the stream, seq, epoch, when it was appended, and the frame's content
(a notification's id, time and data; a topic event). Needs a stack with history.

Options:
  --user <id>    the user's stream (what its connections call "user")
  --topic <t>    the topic's stream ("topic:<t>"), instead of a user's
  --tenant <t>   the stream's tenant, in a multi-tenant stack
  --limit <n>    at most this many entries (default ${DEFAULT_HISTORY_LIMIT})

${TARGET_HELP}`;

const STREAMS_USAGE = `Usage: ws-notify streams --user <id> [--tenant <t>] [target]

Shows the user's stream, one JSON line: its last seq and epoch, the seq its connections acked
({"action":"ack"}; null if none has, in this epoch) and how many entries after it are unacked.
Topic streams are shared by their subscribers and have no per-user ack: they are not listed.

Options:
  --user <id>    the user
  --tenant <t>   the user's tenant, in a multi-tenant stack

${TARGET_HELP}`;

const APIKEY_USAGE = `Usage: ws-notify apikey create --user <id> [--tenant <t>] [--expires <when>] [--scope <scope>] [--topics <patterns>] [--publish-topics <patterns>] [--groups <patterns>] [--auto-subscribe <topics>] [--keepalive] [target]
       ws-notify apikey list --user <id> [target]
       ws-notify apikey revoke <keyId> [target]

API keys authenticate clients that hold no JWT: at $connect as the x-api-key header, the apikey
query parameter, or Authorization: Basic base64(<user>:<key>). Only a hash of each key is stored.

  create   prints a new key, once, on stdout (its id and settings on stderr): store it now
  list     the user's keys, one JSON line each, with their status (active, expired, revoked)
  revoke   revokes the key: it opens no more connections, and those it opened are sent
           {"type":"error","code":"credential_revoked"} and closed within a minute

Options:
  --user <id>        the user the key authenticates as
  --tenant <t>       the key's tenant: required where the stack has a tenantClaim, refused where not
  --expires <when>   when it expires: an ISO 8601 time (2027-01-31T00:00:00Z) or a duration from
                     now (90s, 15m, 12h, 30d); its connections are then closed with
                     "credential_expired" (default: never)
  --scope <scope>    connect (open WebSocket connections; the default) or publish
  --topics <p,q>     topics its connections may subscribe to (a trailing * matches a prefix),
                     as a token's topics claim grants them
  --publish-topics <p,q>
                     topics its connections may publish to
  --groups <p,q>     groups its connections may join (a group shares its events among its
                     members): topic patterns (any group on them) or <topic>#<group>
  --auto-subscribe <t,u>
                     topics its connections are subscribed to at every connect (<topic>#<group>
                     joins that group), as a token's autoSubscribe claim; each must be granted
                     (--topics, --groups, or the stack's public ones) or $connect refuses with 403
  --keepalive        its connections ask for a {"type":"keepalive"} frame every 8 minutes, where the
                     stack's keepalive prop is "requested"

${TARGET_HELP}`;

/** `dlq list` shows at most this many messages per queue unless `--max` says otherwise. */
export const DEFAULT_DLQ_LIST_MAX = 100;
const MAX_DLQ_LIST_MAX = 10_000;

const DLQ_USAGE = `Usage: ws-notify dlq list [--queue <q>] [--max <n>] [target]
       ws-notify dlq redrive [--queue <q>] [--no-wait] [target]
       ws-notify dlq purge [--queue <q>] [--yes] [target]

The dead-letter queues hold what the stack could not deliver: messages a function refused for
good, with an ErrorCode and ErrorMessage saying why, and messages that failed every receive
their queue allows (a cause that lasted: a missing table, an API that kept failing). Fix the
cause, then redrive them.

  list      the dead-lettered messages, one JSON line each: the queue, the message id, when it
            was sent and its age, its receive count, why it is there, and a summary of its body.
            Listing hides each message from other readers until the list is done
  redrive   moves them back to their queue with an SQS message move task, and waits for it.
            A redriven message is a new SQS message (a new message id and sent time) with the
            same body and attributes
  purge     deletes them for good, once you confirm (SQS purges a queue at most once a minute)

Options:
  --queue <q>   notify-user, notify-connection or publish (default: all three)
  --max <n>     list at most this many messages per queue (default ${DEFAULT_DLQ_LIST_MAX})
  --no-wait     start the redrive and print its task, without waiting for it to finish
  --yes         purge without asking; required where there is no terminal to ask at

${TARGET_HELP}`;

/** Claims the local issuer sets itself, whatever `--claims` says. */
const ISSUER_CLAIMS = ['sub', 'iss', 'aud', 'iat', 'exp'];

/** Reads `ws-notify <command> [options]`; throws a UsageError for anything that cannot run. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [command, ...args] = argv;
  switch (command) {
    case 'token':
      return parseToken(args);
    case 'send':
      return parseSend(args);
    case 'stream':
      return parseStream(args);
    case 'connections':
      return parseConnections(args);
    case 'history':
      return parseHistory(args);
    case 'streams':
      return parseStreams(args);
    case 'publish':
      return parsePublish(args);
    case 'apikey':
      return parseApiKey(args);
    case 'dlq':
      return parseDlq(args);
    case 'local':
      return parseLocal(args);
    case '-h':
    case '--help':
      return { command: 'help', text: USAGE };
    case undefined:
      throw new UsageError('no command given', USAGE);
    default:
      throw new UsageError(`unknown command "${command}"`, USAGE);
  }
}

function parseLocal(args: string[]): CommandLine {
  let options: StartOptions | 'help';
  try {
    options = startOptionsFrom(args);
  } catch (error) {
    throw new UsageError((error as Error).message, LOCAL_USAGE);
  }
  return options === 'help' ? { command: 'help', text: LOCAL_USAGE } : { command: 'local', options };
}

function parseToken(args: string[]): CommandLine {
  const values = parseOptions(args, TOKEN_USAGE, ['user', 'ttl', 'claims']);
  if (values.help) return { command: 'help', text: TOKEN_USAGE };
  const usageError = (message: string) => new UsageError(message, TOKEN_USAGE);
  const userId = required(values.user, '--user', TOKEN_USAGE);
  let ttlSeconds: number | undefined;
  if (values.ttl !== undefined) {
    if (!/^-?\d+$/.test(values.ttl)) throw usageError(`--ttl takes a whole number of seconds, got "${values.ttl}"`);
    ttlSeconds = Number(values.ttl);
  }
  let claims: JWTPayload | undefined;
  if (values.claims !== undefined) {
    const parsed = parseJson(values.claims, '--claims', TOKEN_USAGE);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usageError('--claims takes a JSON object');
    const reserved = ISSUER_CLAIMS.filter((claim) => claim in parsed);
    if (reserved.length > 0) {
      throw usageError(`--claims cannot set ${reserved.join(', ')}: the issuer sets them (use --user and --ttl)`);
    }
    claims = parsed as JWTPayload;
  }
  return {
    command: 'token',
    target: targetOf(values),
    userId,
    ...(ttlSeconds !== undefined && { ttlSeconds }),
    ...(claims && { claims }),
  };
}

/**
 * Refuses, before anything is sent, a message that names no tenant for a multi-tenant stack (one
 * with a `tenantClaim`): it would reach nobody and be dead-lettered.
 */
export function checkTenancy(commandLine: CommandLine, tenantClaim: string | undefined): void {
  if (tenantClaim === undefined) return;
  const missing = (usage: string) =>
    new UsageError(`the stack is multi-tenant (tenant claim "${tenantClaim}"): name the tenant with --tenant, or the message reaches nobody`, usage);
  if (commandLine.command === 'publish' && commandLine.message.tenant === undefined) throw missing(PUBLISH_USAGE);
  if (commandLine.command === 'send' && commandLine.notification.queue === 'NotifyUserQueueUrl' && commandLine.notification.message.tenant === undefined) {
    throw missing(SEND_USAGE);
  }
  // Every stream of a multi-tenant stack is in a tenant: without one, nothing would be found.
  const noStream = (usage: string) => new UsageError(`the stack is multi-tenant (tenant claim "${tenantClaim}"): name the stream's tenant with --tenant`, usage);
  if (commandLine.command === 'history' && commandLine.stream.tenant === undefined) throw noStream(HISTORY_USAGE);
  if (commandLine.command === 'streams' && commandLine.tenant === undefined) throw noStream(STREAMS_USAGE);
}

function parseSend(args: string[]): CommandLine {
  const values = parseOptions(args, SEND_USAGE, ['user', 'tenant', 'connection', 'data']);
  if (values.help) return { command: 'help', text: SEND_USAGE };
  if ((values.user === undefined) === (values.connection === undefined)) {
    throw new UsageError('send takes exactly one of --user and --connection', SEND_USAGE);
  }
  const data = parseJson(required(values.data, '--data', SEND_USAGE), '--data', SEND_USAGE);
  const target = targetOf(values);
  if (values.user !== undefined) {
    const userId = required(values.user, '--user', SEND_USAGE);
    const tenant = values.tenant === undefined ? {} : { tenant: required(values.tenant, '--tenant', SEND_USAGE) };
    const message = validMessage(NotifyUserMessage, { userId, data, ...tenant }, SEND_USAGE);
    return { command: 'send', target, notification: { queue: 'NotifyUserQueueUrl', message } };
  }
  if (values.tenant !== undefined) throw new UsageError('--tenant goes with --user: a connection is already in its tenant', SEND_USAGE);
  const connectionId = required(values.connection, '--connection', SEND_USAGE);
  const message = validMessage(NotifyConnectionMessage, { connectionId, data }, SEND_USAGE);
  return { command: 'send', target, notification: { queue: 'NotifyConnectionQueueUrl', message } };
}

function parseStream(args: string[]): CommandLine {
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

function parsePublish(args: string[]): CommandLine {
  const values = parseOptions(args, PUBLISH_USAGE, ['topic', 'type', 'data', 'subject', 'source', 'tenant']);
  if (values.help) return { command: 'help', text: PUBLISH_USAGE };
  const data = values.data === undefined ? {} : { data: parseJson(values.data, '--data', PUBLISH_USAGE) };
  const candidate = {
    topic: required(values.topic, '--topic', PUBLISH_USAGE),
    ...(values.tenant !== undefined && { tenant: required(values.tenant, '--tenant', PUBLISH_USAGE) }),
    event: {
      specversion: '1.0',
      id: randomUUID(),
      source: values.source ?? 'ws-notify-cli',
      type: required(values.type, '--type', PUBLISH_USAGE),
      time: new Date().toISOString(),
      ...(values.subject !== undefined && { subject: values.subject }),
      ...data,
    },
  };
  const message = validMessage(PublishMessage, candidate, PUBLISH_USAGE);
  // Refused here, before any AWS call, as the fan-out would dead-letter it.
  const reserved = reservedAttributeProblem(message.event);
  if (reserved !== undefined) throw new UsageError(`the queue would refuse this message: ${reserved}`, PUBLISH_USAGE);
  return { command: 'publish', target: targetOf(values), message };
}

function parseConnections(args: string[]): CommandLine {
  const values = parseOptions(args, CONNECTIONS_USAGE, ['user']);
  if (values.help) return { command: 'help', text: CONNECTIONS_USAGE };
  return { command: 'connections', target: targetOf(values), userId: required(values.user, '--user', CONNECTIONS_USAGE) };
}

function parseHistory(args: string[]): CommandLine {
  const values = parseOptions(args, HISTORY_USAGE, ['user', 'topic', 'tenant', 'limit']);
  if (values.help) return { command: 'help', text: HISTORY_USAGE };
  if ((values.user === undefined) === (values.topic === undefined)) throw new UsageError('history takes exactly one of --user and --topic', HISTORY_USAGE);
  let limit = DEFAULT_HISTORY_LIMIT;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new UsageError(`--limit takes a whole number from 1 to ${MAX_HISTORY_LIMIT}, got "${values.limit}"`, HISTORY_USAGE);
    }
  }
  const tenant = values.tenant === undefined ? {} : { tenant: required(values.tenant, '--tenant', HISTORY_USAGE) };
  const stream: StreamName =
    values.user !== undefined ? { userId: required(values.user, '--user', HISTORY_USAGE), ...tenant } : { topic: required(values.topic, '--topic', HISTORY_USAGE), ...tenant };
  return { command: 'history', target: targetOf(values), stream, limit };
}

function parseStreams(args: string[]): CommandLine {
  const values = parseOptions(args, STREAMS_USAGE, ['user', 'tenant']);
  if (values.help) return { command: 'help', text: STREAMS_USAGE };
  return {
    command: 'streams',
    target: targetOf(values),
    userId: required(values.user, '--user', STREAMS_USAGE),
    ...(values.tenant !== undefined && { tenant: required(values.tenant, '--tenant', STREAMS_USAGE) }),
  };
}

function parseApiKey(args: string[]): CommandLine {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'create': {
      const values = parseOptions(rest, APIKEY_USAGE, ['user', 'tenant', 'expires', 'scope', 'topics', 'publish-topics', 'groups', 'auto-subscribe'], {
        flags: ['keepalive'],
      });
      if (values.help) return { command: 'help', text: APIKEY_USAGE };
      const scope = values.scope ?? 'connect';
      if (!(API_KEY_SCOPES as readonly string[]).includes(scope)) {
        throw new UsageError(`--scope takes ${API_KEY_SCOPES.join(' or ')}, got "${scope}"`, APIKEY_USAGE);
      }
      const key: NewApiKey = {
        userId: required(values.user, '--user', APIKEY_USAGE),
        scope: scope as ApiKeyScope,
        ...(values.tenant !== undefined && { tenant: required(values.tenant, '--tenant', APIKEY_USAGE) }),
        ...(values.expires !== undefined && { expiresAt: expiryTime(values.expires) }),
        ...grantOption(values.topics, 'topics'),
        ...grantOption(values['publish-topics'], 'publishTopics'),
        ...groupsOption(values.groups),
        ...autoSubscribeOption(values['auto-subscribe']),
        ...(values.keepalive === true && { keepalive: true }),
      };
      if (isAnonymousUserId(key.userId)) throw new UsageError('--user cannot name an anonymous user', APIKEY_USAGE);
      try {
        // Refused here, before any AWS call, as the table would refuse it.
        checkNewApiKey(key);
      } catch (error) {
        throw new UsageError((error as Error).message, APIKEY_USAGE);
      }
      return { command: 'apikey create', target: targetOf(values), key };
    }
    case 'list': {
      const values = parseOptions(rest, APIKEY_USAGE, ['user']);
      if (values.help) return { command: 'help', text: APIKEY_USAGE };
      return { command: 'apikey list', target: targetOf(values), userId: required(values.user, '--user', APIKEY_USAGE) };
    }
    case 'revoke': {
      const { positionals, ...values } = parseOptions(rest, APIKEY_USAGE, [], { positionals: 1 });
      if (values.help) return { command: 'help', text: APIKEY_USAGE };
      const [keyId] = positionals;
      if (keyId === undefined) throw new UsageError('revoke needs the id of the key (apikey list shows them)', APIKEY_USAGE);
      return { command: 'apikey revoke', target: targetOf(values), keyId };
    }
    case '-h':
    case '--help':
      return { command: 'help', text: APIKEY_USAGE };
    case undefined:
      throw new UsageError('apikey needs a subcommand: create, list or revoke', APIKEY_USAGE);
    default:
      throw new UsageError(`unknown apikey subcommand "${subcommand}"`, APIKEY_USAGE);
  }
}

function parseDlq(args: string[]): CommandLine {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list': {
      const values = parseOptions(rest, DLQ_USAGE, ['queue', 'max']);
      if (values.help) return { command: 'help', text: DLQ_USAGE };
      return { command: 'dlq list', target: targetOf(values), queues: deadLetterQueues(values.queue), max: listMax(values.max) };
    }
    case 'redrive': {
      const values = parseOptions(rest, DLQ_USAGE, ['queue'], { flags: ['no-wait'] });
      if (values.help) return { command: 'help', text: DLQ_USAGE };
      return { command: 'dlq redrive', target: targetOf(values), queues: deadLetterQueues(values.queue), wait: !values['no-wait'] };
    }
    case 'purge': {
      const values = parseOptions(rest, DLQ_USAGE, ['queue'], { flags: ['yes'] });
      if (values.help) return { command: 'help', text: DLQ_USAGE };
      return { command: 'dlq purge', target: targetOf(values), queues: deadLetterQueues(values.queue), yes: values.yes === true };
    }
    case '-h':
    case '--help':
      return { command: 'help', text: DLQ_USAGE };
    case undefined:
      throw new UsageError('dlq needs a subcommand: list, redrive or purge', DLQ_USAGE);
    default:
      throw new UsageError(`unknown dlq subcommand "${subcommand}"`, DLQ_USAGE);
  }
}

function deadLetterQueues(queue: string | undefined): DeadLetterQueueName[] {
  if (queue === undefined) return [...DEAD_LETTER_QUEUE_NAMES];
  if (!(DEAD_LETTER_QUEUE_NAMES as readonly string[]).includes(queue)) {
    throw new UsageError(`--queue takes ${DEAD_LETTER_QUEUE_NAMES.join(', ')}, got "${queue}"`, DLQ_USAGE);
  }
  return [queue as DeadLetterQueueName];
}

function listMax(max: string | undefined): number {
  if (max === undefined) return DEFAULT_DLQ_LIST_MAX;
  if (!/^\d+$/.test(max) || Number(max) < 1 || Number(max) > MAX_DLQ_LIST_MAX) {
    throw new UsageError(`--max takes a whole number from 1 to ${MAX_DLQ_LIST_MAX}, got "${max}"`, DLQ_USAGE);
  }
  return Number(max);
}

/** `--topics a,b.*`: the key's grant, read as a token's claim is. */
function grantOption(list: string | undefined, grant: 'topics' | 'publishTopics'): Partial<Record<'topics' | 'publishTopics', string[]>> {
  if (list === undefined) return {};
  const option = grant === 'topics' ? '--topics' : '--publish-topics';
  try {
    return { [grant]: grantFrom(list.split(',').map((pattern) => pattern.trim()), grant) };
  } catch {
    throw new UsageError(`${option} takes a comma-separated list of topic patterns (letters, digits, ._:/- and a trailing *), got "${list}"`, APIKEY_USAGE);
  }
}

/** `--groups jobs#workers,orders.*`: the key's group grant, read as a token's `groups` claim is. */
function groupsOption(list: string | undefined): { groups?: string[] } {
  if (list === undefined) return {};
  try {
    return { groups: groupGrantFrom(list.split(',').map((pattern) => pattern.trim()), 'groups') ?? [] };
  } catch {
    throw new UsageError(`--groups takes a comma-separated list of topic patterns or <topic>#<group> patterns, got "${list}"`, APIKEY_USAGE);
  }
}

/** `--auto-subscribe orders,jobs#workers`: the topics the key's connections are subscribed to at `$connect`. */
function autoSubscribeOption(list: string | undefined): { autoSubscribe?: string[] } {
  if (list === undefined) return {};
  try {
    return { autoSubscribe: autoSubscribeFrom(list.split(',').map((entry) => entry.trim()), 'autoSubscribe') ?? [] };
  } catch {
    throw new UsageError(`--auto-subscribe takes a comma-separated list of topics, each a topic name or <topic>#<group>, got "${list}"`, APIKEY_USAGE);
  }
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `--expires`: an ISO 8601 time, or a duration from now such as `30d`; epoch seconds, in the future. */
function expiryTime(text: string, nowMs = Date.now()): number {
  const duration = text.match(/^(\d+)([smhd])$/);
  const expiresMs = duration ? nowMs + Number(duration[1]) * (DURATION_UNITS[duration[2] as string] as number) * 1000 : isoTime(text);
  if (expiresMs === undefined) {
    throw new UsageError(`--expires takes an ISO 8601 time (2027-01-31T00:00:00Z) or a duration (90s, 15m, 12h, 30d), got "${text}"`, APIKEY_USAGE);
  }
  if (expiresMs <= nowMs) throw new UsageError(`--expires must be in the future, got "${text}"`, APIKEY_USAGE);
  return Math.floor(expiresMs / 1000);
}

function isoTime(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The command's string options (each given once), its boolean `flags`, the target's, --help, and up to `positionals` arguments. */
function parseOptions<const Name extends string, const Flag extends string = never>(
  args: string[],
  usage: string,
  names: readonly Name[],
  { positionals: allowed = 0, flags = [] as readonly Flag[] } = {},
): ParsedOptions<Name, Flag> & { positionals: string[] } {
  const strings = Object.fromEntries([...names, 'outputs', 'stack'].map((name) => [name, { type: 'string' as const }]));
  const booleans = Object.fromEntries(flags.map((name) => [name, { type: 'boolean' as const }]));
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...strings, ...booleans, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: allowed > 0,
    });
    if (positionals.length > allowed) throw new TypeError(`Unexpected argument '${positionals[allowed]}'`);
    // The options are built from `names` and `flags`, which parseArgs's types cannot follow.
    return { ...(values as ParsedOptions<Name, Flag>), positionals };
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    // Node's advice for an unknown option (pass it after `--`) does not apply: no command takes positionals.
    throw new UsageError(code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? (message.split('.')[0] as string) : message, usage);
  }
}

type ParsedOptions<Name extends string, Flag extends string = never> = { [name in Name | 'outputs' | 'stack']?: string } & {
  [flag in Flag | 'help']?: boolean;
};

function targetOf(values: { outputs?: string | undefined; stack?: string | undefined }): TargetOptions {
  return {
    ...(values.outputs !== undefined && { outputsFile: required(values.outputs, '--outputs', USAGE) }),
    ...(values.stack !== undefined && { stackName: required(values.stack, '--stack', USAGE) }),
  };
}

function required(value: string | undefined, option: string, usage: string): string {
  if (value === undefined) throw new UsageError(`${option} is required`, usage);
  if (value === '') throw new UsageError(`${option} cannot be empty`, usage);
  return value;
}

function parseJson(text: string, option: string, usage: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${option} is not valid JSON (${(error as Error).message}); quote it for the shell, e.g. '{"text":"hi"}'`, usage);
  }
}

/** Checked with the schema the queue's consumer applies, so that a message it would dead-letter is never sent. */
function validMessage<T>(schema: Parameters<typeof parseMessage<T>>[0], message: unknown, usage: string): T {
  try {
    return parseMessage(schema, JSON.stringify(message));
  } catch (error) {
    if (error instanceof InvalidMessageError) throw new UsageError(`the queue would refuse this message: ${error.message}`, usage);
    throw error;
  }
}
