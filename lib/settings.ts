import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { KeepaliveMode } from '../lambdas/core/connect-options';
import { DEFAULT_MAX_CONNECTIONS_PER_API_KEY, DEFAULT_MAX_CONNECTIONS_PER_USER } from '../lambdas/core/connections';
import { DEFAULT_HISTORY_MAX_ENTRIES, DEFAULT_HISTORY_TTL_SECONDS, DEFAULT_REPLAY_LIMIT } from '../lambdas/core/streams';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../lambdas/core/subscriptions';
import { grantFrom, groupGrantFrom } from '../lambdas/core/topics';
import type { WsNotifyProps } from './ws-notify-props';

// WsNotifyProps checked and with their defaults: every part reads these, never the props. A prop
// that is out of range, or that needs another, throws here at synth time saying what to change.

/** SQS holds a message back at most this long (DelaySeconds). */
const MAX_SQS_DELAY_SECONDS = 15 * 60;
/** Consumers running at once per queue, unless set: 70 of an account's default 1,000. */
const DEFAULT_CONSUMER_CONCURRENCY = { notifyUserConcurrency: 20, notifyConnectionConcurrency: 40, publishConcurrency: 10 } as const;
const DEFAULT_THROTTLE = { rateLimit: 500, burstLimit: 1000 } as const;

export interface AuthModes {
  /** The authorizer's and authenticate's JWT settings; empty where the stack accepts no JWTs. */
  readonly jwt: Partial<Record<'JWT_ISSUER' | 'JWT_AUDIENCE' | 'JWKS_URI', string>>;
  readonly apiKeys: boolean;
  readonly anonymous: boolean;
  /** Who the authorizer admits, in words (cdk-nag's APIG4 acknowledgement says it). */
  readonly describe: string;
}

/** The streams' settings as the functions read them. */
export interface HistorySettings {
  readonly ttlSeconds: number;
  readonly maxEntries: number;
  readonly replayLimit: number;
}

export interface WsNotifySettings {
  readonly auth: AuthModes;
  readonly concurrency: Record<keyof typeof DEFAULT_CONSUMER_CONCURRENCY, number>;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: RetentionDays;
  /** The JWT claim that names a tenant; undefined in a single-tenant stack. */
  readonly tenantClaim: string | undefined;
  readonly publicTopics: string[];
  readonly publicGroups: string[];
  readonly maxSubscriptionsPerConnection: number;
  readonly maxConnectionsPerUser: number;
  readonly maxConnectionsPerApiKey: number;
  readonly keepalive: KeepaliveMode;
  /** Undefined with `history: false`. */
  readonly history: HistorySettings | undefined;
  /** The offline fallback's delay; undefined when it is off. */
  readonly ackTimeout: Duration | undefined;
  /** Enrichers by topic pattern, in the order they are tried. */
  readonly enrichers: [string, IFunction][];
  readonly eventsIamPrincipals: string[] | undefined;
  readonly stageName: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly configureApiGatewayAccountLogging: boolean;
}

export function settingsOf(props: WsNotifyProps): WsNotifySettings {
  const auth = authModes(props);
  const concurrency = consumerConcurrency(props);
  const keepalive = keepaliveMode(props.keepalive);
  const history = historySettings(props);
  const ackTimeout = ackTimeoutOf(props);
  const publicTopics = validTopicPatterns('publicTopics', props.publicTopics ?? []);
  const publicGroups = validPatterns(groupGrantFrom, 'publicGroups', props.publicGroups ?? []);
  const tenantClaim = props.tenantClaim === undefined ? undefined : validTenantClaim(props.tenantClaim);
  const maxSubscriptionsPerConnection = props.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
  if (!Number.isInteger(maxSubscriptionsPerConnection) || maxSubscriptionsPerConnection < 1) {
    throw new Error(`maxSubscriptionsPerConnection must be a whole number of at least 1, not ${maxSubscriptionsPerConnection}`);
  }
  const maxConnectionsPerUser = wholeNumberFrom1('maxConnectionsPerUser', props.maxConnectionsPerUser ?? DEFAULT_MAX_CONNECTIONS_PER_USER);
  const maxConnectionsPerApiKey = wholeNumberFrom1('maxConnectionsPerApiKey', props.maxConnectionsPerApiKey ?? DEFAULT_MAX_CONNECTIONS_PER_API_KEY);
  const enrichers = Object.entries(props.enrichers ?? {});
  validTopicPatterns('enrichers', enrichers.map(([pattern]) => pattern));
  const eventsIamPrincipals = props.eventsIamPrincipals === undefined ? undefined : validArnPatterns(props.eventsIamPrincipals);
  return {
    auth,
    concurrency,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
    tenantClaim,
    publicTopics,
    publicGroups,
    maxSubscriptionsPerConnection,
    maxConnectionsPerUser,
    maxConnectionsPerApiKey,
    keepalive,
    history,
    ackTimeout,
    enrichers,
    eventsIamPrincipals,
    stageName: props.stageName ?? 'live',
    throttle: props.throttle ?? DEFAULT_THROTTLE,
    configureApiGatewayAccountLogging: props.configureApiGatewayAccountLogging ?? true,
  };
}

/** The ways a client may connect: JWT (issuer and audience), API keys, anonymous; at least one. */
function authModes(props: WsNotifyProps): AuthModes {
  if ((props.jwtIssuer === undefined) !== (props.jwtAudience === undefined)) {
    throw new Error(
      'WsNotify: set jwtIssuer and jwtAudience together to accept JWTs (the `iss` and the `aud` your tokens carry), or neither ' +
        `(got ${props.jwtIssuer === undefined ? 'jwtAudience without jwtIssuer' : 'jwtIssuer without jwtAudience'}).`,
    );
  }
  if (props.jwtIssuer === undefined && props.jwksUri !== undefined) {
    throw new Error('WsNotify: jwksUri is where the JWT issuer publishes its keys; set jwtIssuer and jwtAudience with it, or leave it out.');
  }
  let jwt: AuthModes['jwt'] = {};
  if (props.jwtIssuer !== undefined) {
    const issuer = validHttpsUrl('jwtIssuer', props.jwtIssuer, 'the https URL of your token issuer');
    if (!props.jwtAudience) throw new Error('WsNotify: jwtAudience must not be empty (the `aud` your tokens carry).');
    // The keys decide who anyone is: fetched over plain http, whoever is on the path could mint tokens.
    const jwksUri = validHttpsUrl('jwksUri', props.jwksUri ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`, "the https URL of your issuer's keys");
    jwt = { JWT_ISSUER: issuer, JWT_AUDIENCE: props.jwtAudience, JWKS_URI: jwksUri };
  }
  const apiKeys = props.apiKeys ?? true;
  const anonymous = props.allowAnonymous ?? false;
  const admitted = [
    ...(props.jwtIssuer === undefined ? [] : [`JWTs from ${props.jwtIssuer}`]),
    ...(apiKeys ? ['API keys from its key table'] : []),
    ...(anonymous ? ['anonymous clients (each its own user)'] : []),
  ];
  if (admitted.length === 0) {
    throw new Error(
      'WsNotify: no client could connect. Accept JWTs (jwtIssuer and jwtAudience), API keys (apiKeys, on unless set to false), ' +
        'or anonymous clients (allowAnonymous: true).',
    );
  }
  return { jwt, apiKeys, anonymous, describe: admitted.join(', ') };
}

/** Each queue's consumer concurrency, as Lambda's SQS event source takes it (2 to 1000). */
function consumerConcurrency(props: WsNotifyProps): Record<keyof typeof DEFAULT_CONSUMER_CONCURRENCY, number> {
  const entries = Object.entries(DEFAULT_CONSUMER_CONCURRENCY).map(([prop, fallback]) => {
    const value = props[prop as keyof typeof DEFAULT_CONSUMER_CONCURRENCY] ?? fallback;
    if (!Number.isInteger(value) || value < 2 || value > 1000) {
      throw new Error(`WsNotify: ${prop} must be a whole number from 2 to 1000 (Lambda's SQS maximum concurrency), not ${value}.`);
    }
    return [prop, value] as const;
  });
  return Object.fromEntries(entries) as Record<keyof typeof DEFAULT_CONSUMER_CONCURRENCY, number>;
}

function keepaliveMode(mode: KeepaliveMode | undefined): KeepaliveMode {
  const value = mode ?? 'off';
  if (!['off', 'requested', 'all'].includes(value)) {
    throw new Error(`WsNotify: keepalive must be 'off', 'requested' (connections that ask) or 'all', not ${JSON.stringify(mode)}.`);
  }
  return value;
}

/** The `ackTimeout` (a delivery delay of the AckCheck queue), checked against SQS's limit and the history it needs. */
function ackTimeoutOf(props: WsNotifyProps): Duration | undefined {
  if (props.ackTimeout === undefined) return undefined;
  if (props.history === false) throw new Error('WsNotify: ackTimeout needs history (acks are positions in a stream); remove it, or history: false.');
  const seconds = props.ackTimeout.toMilliseconds() / 1000;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SQS_DELAY_SECONDS) {
    throw new Error(`WsNotify: ackTimeout must be a whole number of seconds from 1 second to 15 minutes (an SQS delivery delay), not ${seconds} seconds.`);
  }
  // The check reads its entry back: it must still be there.
  if (seconds >= (props.historyTtl?.toSeconds() ?? DEFAULT_HISTORY_TTL_SECONDS)) {
    throw new Error(`WsNotify: ackTimeout (${seconds} s) must be shorter than historyTtl: a notification is looked up in its stream when its ack is checked.`);
  }
  return props.ackTimeout;
}

/** The streams' settings; undefined with `history: false`. */
function historySettings(props: WsNotifyProps): HistorySettings | undefined {
  const configured = [props.historyTtl, props.historyMaxEntries, props.replayLimit].some((value) => value !== undefined);
  if (props.history === false) {
    if (configured) throw new Error('WsNotify: historyTtl, historyMaxEntries and replayLimit need history; remove them, or history: false.');
    return undefined;
  }
  const ttlSeconds = props.historyTtl?.toSeconds() ?? DEFAULT_HISTORY_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 365 * 24 * 60 * 60) {
    throw new Error(`WsNotify: historyTtl must be a whole number of seconds from 1 second to 365 days, not ${ttlSeconds} seconds.`);
  }
  return {
    ttlSeconds,
    maxEntries: wholeNumberIn('historyMaxEntries', props.historyMaxEntries ?? DEFAULT_HISTORY_MAX_ENTRIES, 100_000),
    replayLimit: wholeNumberIn('replayLimit', props.replayLimit ?? DEFAULT_REPLAY_LIMIT, 10_000),
  };
}

function wholeNumberIn(prop: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`WsNotify: ${prop} must be a whole number from 1 to ${max}, not ${value}.`);
  return value;
}

function wholeNumberFrom1(prop: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new Error(`WsNotify: ${prop} must be a whole number from 1 to 1000, not ${value}.`);
  return value;
}

function validTopicPatterns(prop: string, patterns: string[]): string[] {
  return validPatterns(grantFrom, prop, patterns);
}

function validPatterns(read: (value: unknown, claim: string) => string[] | undefined, prop: string, patterns: string[]): string[] {
  try {
    return read(patterns, prop) ?? [];
  } catch (error) {
    throw new Error(`WsNotify: ${(error as Error).message} (got ${JSON.stringify(patterns)}).`);
  }
}

function validArnPatterns(patterns: string[]): string[] {
  const invalid = patterns.filter((pattern) => !/^arn:[^:*]+:(iam|sts):/.test(pattern));
  if (patterns.length === 0 || invalid.length > 0) {
    throw new Error(
      `WsNotify: eventsIamPrincipals must list IAM user or role ARN patterns such as "arn:aws:iam::123456789012:user/ci" or ` +
        `"arn:aws:sts::123456789012:assumed-role/publisher/*" (got ${JSON.stringify(patterns)}).`,
    );
  }
  return patterns;
}

function validTenantClaim(claim: string): string {
  if (!/^[A-Za-z0-9_:.\-/]{1,128}$/.test(claim) || ['sub', 'iss', 'aud', 'exp', 'nbf', 'iat', 'jti'].includes(claim)) {
    throw new Error(`WsNotify: tenantClaim must name a custom JWT claim such as "org" (got ${JSON.stringify(claim)}).`);
  }
  return claim;
}

function validHttpsUrl(prop: string, value: string | undefined, what: string): string {
  let url: URL;
  try {
    url = new URL(value ?? '');
  } catch {
    throw new Error(`WsNotify: ${prop} must be ${what} (got ${JSON.stringify(value)}).`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`WsNotify: ${prop} must use https (http is accepted only for localhost); got ${value}.`);
  }
  return value as string;
}
