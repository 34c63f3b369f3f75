import { type ApiKey, API_KEY_SCOPES, type ApiKeyScope, ApiKeyTable, checkNewApiKey, type NewApiKey } from '../../lambdas/core/api-keys';
import { isAnonymousUserId } from '../../lambdas/core/auth';
import { autoSubscribeFrom, grantFrom, groupGrantFrom } from '../../lambdas/core/topics';
import { documentClientFor } from '../clients';
import { type HelpCommandLine, parseOptions, required, type TargetOptions, targetOf, UsageError } from '../options';
import { CommandError, type Target } from '../target';
import { TARGET_HELP } from '../usage';

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
                     by --topics (and --groups, for a group), a public topic too, or the key is
                     refused: $connect would refuse every connection with it (403)
  --keepalive        its connections ask for a {"type":"keepalive"} frame every 8 minutes, where the
                     stack's keepalive prop is "requested"

${TARGET_HELP}`;

export type ApiKeyCommandLine =
  | { command: 'apikey create'; target: TargetOptions; key: NewApiKey }
  | { command: 'apikey list'; target: TargetOptions; userId: string }
  | { command: 'apikey revoke'; target: TargetOptions; keyId: string };

export function parseApiKey(args: string[]): ApiKeyCommandLine | HelpCommandLine {
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

/** `apikey create`: the new key on stdout, the only time it is shown; what it is, on stderr. */
export async function createApiKey(target: Target, key: NewApiKey): Promise<void> {
  await withApiKeyTable(target, async (keys) => {
    const { apiKey, record } = await keys.create(key);
    console.log(apiKey);
    console.error(`created ${JSON.stringify(describeApiKey(record))}; the key is shown once: store it now`);
  });
}

/** `apikey list`: one JSON line per key of the user, oldest first. */
export async function listApiKeys(target: Target, userId: string): Promise<void> {
  await withApiKeyTable(target, async (keys) => {
    for await (const key of keys.keysOf(userId)) console.log(JSON.stringify(describeApiKey(key)));
  });
}

/** `apikey revoke`: an unknown key fails; revoking a revoked key again changes nothing. */
export async function revokeApiKey(target: Target, keyId: string): Promise<void> {
  await withApiKeyTable(target, async (keys) => {
    const outcome = await keys.revoke(keyId);
    if (outcome === 'unknown') throw new CommandError(`there is no API key ${keyId} (apikey list --user <id> shows a user's keys)`);
    console.log(
      outcome === 'revoked'
        ? `revoked ${keyId}: its connections are closed with "credential_revoked" within a minute`
        : `${keyId} was already revoked`,
    );
  });
}

async function withApiKeyTable(target: Target, use: (keys: ApiKeyTable) => Promise<void>): Promise<void> {
  const db = documentClientFor(target);
  try {
    await use(new ApiKeyTable(db, target.outputs.ApiKeysTableName));
  } finally {
    db.destroy();
  }
}

function describeApiKey({ keyId, userId, tenant, scope, topics, publishTopics, groups, autoSubscribe, keepalive, createdAt, expiresAt, revokedAt }: ApiKey, now = Date.now() / 1000) {
  const status = revokedAt !== undefined ? 'revoked' : expiresAt !== undefined && expiresAt <= now ? 'expired' : 'active';
  const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
  return {
    keyId,
    userId,
    ...(tenant !== undefined && { tenant }),
    scope,
    // The grants, so that an operator sees what a key may do without reading the table.
    ...(topics !== undefined && { topics }),
    ...(publishTopics !== undefined && { publishTopics }),
    ...(groups !== undefined && { groups }),
    ...(autoSubscribe !== undefined && { autoSubscribe }),
    ...(keepalive !== undefined && { keepalive }),
    status,
    createdAt: iso(createdAt),
    ...(expiresAt !== undefined && { expiresAt: iso(expiresAt) }),
    ...(revokedAt !== undefined && { revokedAt: iso(revokedAt) }),
  };
}
