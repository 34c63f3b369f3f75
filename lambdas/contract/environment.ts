/**
 * The environment of each function: one declaration per function of the variables the construct
 * sets and the handler reads, so that the two never agree through the same string typed twice.
 * The construct builds a function's environment with `environmentFor('notify-user', …)` (at synth
 * time); the handler reads it once, at cold start, with `readEnvironment(notifyUserEnvironment)`
 * (lambdas/wiring/environment.ts), which fails the start loudly on a required variable that is
 * missing or unreadable.
 *
 * Constants and types only, with no import: lib/ imports this file, and so does every bundle.
 * Variable names and values are an API of deployed stacks: never rename one.
 */

/** How a value is written: a name, URL or ARN; a whole number; `true` or `false`; JSON; one of a few words. */
export type VariableKind = 'text' | 'count' | 'flag' | 'json' | 'keepalive';

/** The keepalive modes (construct prop `keepalive`). */
export const KEEPALIVE_MODES = ['off', 'requested', 'all'] as const;
export type KeepaliveMode = (typeof KEEPALIVE_MODES)[number];

/** Every variable a function may be given: how it is written, and (its doc comment) what it holds. */
export const VARIABLES = {
  // Tables
  /** the connections table: one row per open connection */
  CONNECTIONS_TABLE_NAME: 'text',
  /** each user's and API key's open connections (sets of ids): counted at $connect, released by every removal of a connection */
  CONNECTION_COUNTS_TABLE_NAME: 'text',
  /** the topic subscriptions, one row per connection and topic */
  SUBSCRIPTIONS_TABLE_NAME: 'text',
  /** the API keys, one row per key */
  API_KEYS_TABLE_NAME: 'text',
  /** the users' and topics' streams (history); absent: a stack with `history: false` */
  STREAMS_TABLE_NAME: 'text',
  /** the users' acked stream positions */
  ACKS_TABLE_NAME: 'text',
  // History
  /** how long a stream entry (and an ack) is kept, in seconds (prop `historyTtl`) */
  HISTORY_TTL_SECONDS: 'count',
  /** entries kept per stream (prop `historyMaxEntries`) */
  HISTORY_MAX_ENTRIES: 'count',
  /** entries one resume replays per stream (prop `replayLimit`) */
  REPLAY_LIMIT: 'count',
  // Queues and APIs
  /** the WebSocket stage's callback URL, for PostToConnection and DeleteConnection */
  MANAGEMENT_API_ENDPOINT: 'text',
  /** the NotifyConnection queue: one delivery to one connection per message */
  NOTIFY_CONNECTION_QUEUE_URL: 'text',
  /** the topic fan-out's own queue: stamped events and a large topic's further pages */
  TOPIC_PAGES_QUEUE_URL: 'text',
  /** that queue's ARN, which tells the fan-out's records from the Publish queue's */
  TOPIC_PAGES_QUEUE_ARN: 'text',
  /** the AckCheck queue (prop `ackTimeout`): each appended notification checked that long after */
  ACK_CHECK_QUEUE_URL: 'text',
  /** the Undelivered queue (FIFO): notifications not acked in time, for the backend */
  UNDELIVERED_QUEUE_URL: 'text',
  /** the dead-letter queue of the queue the function consumes, for a message no retry can fix */
  DEAD_LETTER_QUEUE_URL: 'text',
  // Authentication and tenancy
  /** a connection without a credential is admitted as an anonymous user of its own (prop `allowAnonymous`) */
  ALLOW_ANONYMOUS: 'flag',
  /** `connect` API keys are accepted (prop `apiKeys`) */
  ACCEPT_API_KEYS: 'flag',
  /** the `iss` of accepted tokens; with JWT_AUDIENCE and JWKS_URI, or none of the three (JWT off) */
  JWT_ISSUER: 'text',
  /** the `aud` of accepted tokens */
  JWT_AUDIENCE: 'text',
  /** the https URL of the issuer's keys */
  JWKS_URI: 'text',
  /** the claim that names a credential's tenant; absent: a single-tenant stack */
  TENANT_CLAIM: 'text',
  /** the ARN patterns of the AWS principals that may post events (a JSON list; prop `eventsIamPrincipals`) */
  IAM_PRINCIPALS: 'json',
  // Limits and grants
  /** open connections one user (in one tenant) may hold */
  MAX_CONNECTIONS_PER_USER: 'count',
  /** open connections one API key may hold */
  MAX_CONNECTIONS_PER_API_KEY: 'count',
  /** topic subscriptions one connection may hold */
  MAX_SUBSCRIPTIONS_PER_CONNECTION: 'count',
  /** which connections get server keepalives: off, requested (those that ask) or all */
  KEEPALIVE: 'keepalive',
  /** topic patterns every connection may subscribe to (a JSON list; prop `publicTopics`) */
  PUBLIC_TOPICS: 'json',
  /** group patterns every connection may join (a JSON list; prop `publicGroups`) */
  PUBLIC_GROUPS: 'json',
  /** topic pattern → the ARN of the function that enriches its events (a JSON object; prop `enrichers`) */
  ENRICHERS: 'json',
} as const satisfies Record<string, VariableKind>;

export type VariableName = keyof typeof VARIABLES;

/**
 * Set on every function by the construct and read by Powertools, not by ws-notify's code: the
 * metrics' `service` dimension (the stack's name) and namespace. Absent (tests), Powertools uses
 * its defaults.
 */
export const POWERTOOLS_VARIABLES = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'] as const;

/** One function's environment. */
export interface FunctionEnvironment {
  /** Read at cold start: a start without one of them fails. */
  readonly required: readonly VariableName[];
  /** Read where set: a feature the stack may be deployed without (the handler says what absence means). */
  readonly optional: readonly VariableName[];
  /**
   * Set by the construct with the others of their group, and read by no code of this function:
   * kept so that deployed functions keep their environment. A construct may leave them out.
   */
  readonly unread: readonly VariableName[];
}

// Each function's environment, one declaration per handler (`lambdas/handlers/<name>.ts`), each its
// own constant of plain literals (no spreads, which a bundler keeps) so that a bundle carries its
// function's alone. A function that removes connections
// requires the counts table with the connections table: every removal releases the connection's counts.

/** The `$connect` authorizer. API_KEYS_TABLE_NAME is required where ACCEPT_API_KEYS is true. */
export const authorizeEnvironment = {
  required: ['ALLOW_ANONYMOUS', 'ACCEPT_API_KEYS'],
  optional: ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI', 'TENANT_CLAIM', 'API_KEYS_TABLE_NAME'],
  unread: [],
} as const satisfies FunctionEnvironment;

/** `authenticate`: a refresh stores the new grants and ends the subscriptions they no longer cover. */
export const authenticateEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT'],
  optional: ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI', 'TENANT_CLAIM', 'PUBLIC_TOPICS', 'PUBLIC_GROUPS'],
  unread: ['CONNECTION_COUNTS_TABLE_NAME'],
} as const satisfies FunctionEnvironment;

/** `$connect`: stores the connection, counted against its limits, with its subscriptions at connect. KEEPALIVE absent: off. */
export const connectEnvironment = {
  required: [
    'CONNECTIONS_TABLE_NAME',
    'CONNECTION_COUNTS_TABLE_NAME',
    'SUBSCRIPTIONS_TABLE_NAME',
    'MAX_CONNECTIONS_PER_USER',
    'MAX_CONNECTIONS_PER_API_KEY',
    'MAX_SUBSCRIPTIONS_PER_CONNECTION',
  ],
  optional: ['KEEPALIVE', 'PUBLIC_TOPICS', 'PUBLIC_GROUPS'],
  unread: [],
} as const satisfies FunctionEnvironment;

/** `$disconnect`: removes the connection and its subscriptions. */
export const disconnectEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME'],
  optional: [],
  unread: [],
} as const satisfies FunctionEnvironment;

/** `subscribe`; with history (STREAMS_TABLE_NAME and its settings, and MANAGEMENT_API_ENDPOINT), from a position. */
export const subscribeEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MAX_SUBSCRIPTIONS_PER_CONNECTION'],
  optional: ['PUBLIC_TOPICS', 'PUBLIC_GROUPS', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES', 'REPLAY_LIMIT', 'MANAGEMENT_API_ENDPOINT'],
  unread: ['CONNECTION_COUNTS_TABLE_NAME'],
} as const satisfies FunctionEnvironment;

/** `unsubscribe`. PUBLIC_TOPICS is read, though the construct does not set it today. */
export const unsubscribeEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME'],
  optional: ['PUBLIC_TOPICS'],
  unread: ['CONNECTION_COUNTS_TABLE_NAME'],
} as const satisfies FunctionEnvironment;

/** `publish`: onto the fan-out's own queue. */
export const publishEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'TOPIC_PAGES_QUEUE_URL'],
  optional: [],
  unread: ['CONNECTION_COUNTS_TABLE_NAME'],
} as const satisfies FunctionEnvironment;

/** `resume`: only on a stack with history. */
export const resumeEnvironment = {
  required: [
    'CONNECTIONS_TABLE_NAME',
    'SUBSCRIPTIONS_TABLE_NAME',
    'STREAMS_TABLE_NAME',
    'HISTORY_TTL_SECONDS',
    'HISTORY_MAX_ENTRIES',
    'REPLAY_LIMIT',
    'MANAGEMENT_API_ENDPOINT',
  ],
  optional: ['PUBLIC_TOPICS', 'PUBLIC_GROUPS'],
  unread: ['CONNECTION_COUNTS_TABLE_NAME'],
} as const satisfies FunctionEnvironment;

/** `history`: only on a stack with history. */
export const historyEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES'],
  optional: ['PUBLIC_TOPICS', 'PUBLIC_GROUPS'],
  unread: ['CONNECTION_COUNTS_TABLE_NAME', 'REPLAY_LIMIT'],
} as const satisfies FunctionEnvironment;

/** `ack`: only on a stack with history. */
export const ackEnvironment = {
  required: ['STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES', 'ACKS_TABLE_NAME'],
  optional: [],
  unread: ['REPLAY_LIMIT'],
} as const satisfies FunctionEnvironment;

/** `$default`: answers without any setting. */
export const defaultEnvironment = { required: [], optional: [], unread: [] } as const satisfies FunctionEnvironment;

/** `ping`: answers without any setting. */
export const pingEnvironment = { required: [], optional: [], unread: [] } as const satisfies FunctionEnvironment;

/** The NotifyUser queue: a notification to each connection of a user; appended to the user's stream with history. */
export const notifyUserEnvironment = {
  required: [
    'CONNECTIONS_TABLE_NAME',
    'CONNECTION_COUNTS_TABLE_NAME',
    'SUBSCRIPTIONS_TABLE_NAME',
    'MANAGEMENT_API_ENDPOINT',
    'NOTIFY_CONNECTION_QUEUE_URL',
    'DEAD_LETTER_QUEUE_URL',
  ],
  optional: ['TENANT_CLAIM', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES', 'ACK_CHECK_QUEUE_URL'],
  unread: ['REPLAY_LIMIT'],
} as const satisfies FunctionEnvironment;

/** The NotifyConnection queue: one delivery to one connection. */
export const notifyConnectionEnvironment = {
  required: [
    'CONNECTIONS_TABLE_NAME',
    'CONNECTION_COUNTS_TABLE_NAME',
    'SUBSCRIPTIONS_TABLE_NAME',
    'MANAGEMENT_API_ENDPOINT',
    'DEAD_LETTER_QUEUE_URL',
  ],
  optional: [],
  unread: [],
} as const satisfies FunctionEnvironment;

/** The Publish queue and the fan-out's own, on a stack without enrichers. */
export const topicFanOutEnvironment = {
  required: ['SUBSCRIPTIONS_TABLE_NAME', 'NOTIFY_CONNECTION_QUEUE_URL', 'TOPIC_PAGES_QUEUE_URL', 'TOPIC_PAGES_QUEUE_ARN', 'DEAD_LETTER_QUEUE_URL'],
  optional: ['TENANT_CLAIM', 'PUBLIC_TOPICS', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES'],
  unread: ['REPLAY_LIMIT'],
} as const satisfies FunctionEnvironment;

/** The same, on a stack with enrichers: they may name a user, found through the connections table. */
export const enrichingTopicFanOutEnvironment = {
  required: [
    'SUBSCRIPTIONS_TABLE_NAME',
    'NOTIFY_CONNECTION_QUEUE_URL',
    'TOPIC_PAGES_QUEUE_URL',
    'TOPIC_PAGES_QUEUE_ARN',
    'DEAD_LETTER_QUEUE_URL',
    'ENRICHERS',
    'CONNECTIONS_TABLE_NAME',
  ],
  optional: ['TENANT_CLAIM', 'PUBLIC_TOPICS', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES'],
  unread: ['REPLAY_LIMIT', 'CONNECTION_COUNTS_TABLE_NAME'],
} as const satisfies FunctionEnvironment;

/** Every minute: closes connections whose credential expired or whose API key was revoked. */
export const credentialSweepEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'API_KEYS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT'],
  optional: [],
  unread: [],
} as const satisfies FunctionEnvironment;

/** Every minute, with `keepalive` on: the keepalives of the minute's slot. */
export const keepaliveEnvironment = {
  required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT'],
  optional: [],
  unread: [],
} as const satisfies FunctionEnvironment;

/** The events ingress's API key authorizer. */
export const eventsAuthorizerEnvironment = {
  required: ['API_KEYS_TABLE_NAME'],
  optional: ['TENANT_CLAIM'],
  unread: [],
} as const satisfies FunctionEnvironment;

/** The HTTP events ingress. */
export const eventsIngressEnvironment = {
  required: ['TOPIC_PAGES_QUEUE_URL'],
  optional: ['TENANT_CLAIM', 'IAM_PRINCIPALS', 'PUBLIC_TOPICS'],
  unread: [],
} as const satisfies FunctionEnvironment;

/** The AckCheck queue, with `ackTimeout`: an unacked notification to the Undelivered queue. */
export const ackCheckEnvironment = {
  required: ['STREAMS_TABLE_NAME', 'ACKS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'UNDELIVERED_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL'],
  optional: [],
  unread: ['HISTORY_MAX_ENTRIES', 'REPLAY_LIMIT'],
} as const satisfies FunctionEnvironment;

/** Each function's environment by its handler's file name: the construct's index of the declarations above. */
export const FUNCTION_ENVIRONMENTS = {
  authorize: authorizeEnvironment,
  authenticate: authenticateEnvironment,
  connect: connectEnvironment,
  disconnect: disconnectEnvironment,
  subscribe: subscribeEnvironment,
  unsubscribe: unsubscribeEnvironment,
  publish: publishEnvironment,
  resume: resumeEnvironment,
  history: historyEnvironment,
  ack: ackEnvironment,
  default: defaultEnvironment,
  ping: pingEnvironment,
  'notify-user': notifyUserEnvironment,
  'notify-connection': notifyConnectionEnvironment,
  'topic-fan-out': topicFanOutEnvironment,
  'enriching-topic-fan-out': enrichingTopicFanOutEnvironment,
  'credential-sweep': credentialSweepEnvironment,
  keepalive: keepaliveEnvironment,
  'events-authorizer': eventsAuthorizerEnvironment,
  'events-ingress': eventsIngressEnvironment,
  'ack-check': ackCheckEnvironment,
};

/** A function, by the name of its handler file (`lambdas/handlers/<name>.ts`). */
export type FunctionName = keyof typeof FUNCTION_ENVIRONMENTS;

type RequiredOf<C extends FunctionEnvironment> = C['required'][number];
type OptionalOf<C extends FunctionEnvironment> = C['optional'][number];
type UnreadOf<C extends FunctionEnvironment> = C['unread'][number];

/** A variable's value as the handler reads it. */
export type VariableValue<N extends VariableName> = {
  text: string;
  count: number;
  flag: boolean;
  json: unknown;
  keepalive: KeepaliveMode;
}[(typeof VARIABLES)[N]];

/** What `readEnvironment(contract)` returns: each required variable read, each optional one where set. */
export type Environment<C extends FunctionEnvironment> = { readonly [N in RequiredOf<C>]: VariableValue<N> } & {
  readonly [N in OptionalOf<C>]?: VariableValue<N>;
};

/**
 * What the construct gives a function (values as Lambda takes them: strings, CDK tokens included):
 * every required variable, any optional or unread one.
 */
export type EnvironmentValues<F extends FunctionName> = { readonly [N in RequiredOf<(typeof FUNCTION_ENVIRONMENTS)[F]>]: string } & {
  readonly [N in OptionalOf<(typeof FUNCTION_ENVIRONMENTS)[F]> | UnreadOf<(typeof FUNCTION_ENVIRONMENTS)[F]>]?: string;
};

/** The variables by name, for a construct that adds one at a time: `fn.addEnvironment(Variable.MANAGEMENT_API_ENDPOINT, url)`. */
export const Variable = /* @__PURE__ */ Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, name])) as { readonly [N in VariableName]: N };

/**
 * What is wrong with the environment a function was given, against its contract: a required
 * variable missing or empty, a variable the contract does not name. Empty when nothing is. For a
 * construct that builds an environment in steps (a part's `grant…` method adds its variables), as a
 * validation at synth time: `fn.node.addValidation({ validate: () => environmentProblems(…) })`.
 */
export function environmentProblems(fn: FunctionName, given: Readonly<Record<string, string | undefined>>): string[] {
  const contract: FunctionEnvironment = FUNCTION_ENVIRONMENTS[fn];
  const named = new Set<string>([...contract.required, ...contract.optional, ...contract.unread, ...POWERTOOLS_VARIABLES]);
  return [
    ...Object.keys(given)
      .filter((name) => given[name] !== undefined && !named.has(name))
      .map((name) => `the ${fn} function's environment contract (lambdas/contract/environment.ts) does not name ${name}`),
    ...contract.required.filter((name) => !given[name]).map((name) => `the ${fn} function needs ${name} (lambdas/contract/environment.ts)`),
  ];
}

/**
 * The construct's side, for an environment given at once: the function's environment record, in
 * the order given (undefined values left out), for `NodejsFunction`'s `environment`. Required
 * variables are required by the type; at synth time it throws on any of `environmentProblems`
 * (a spread of a group escapes the type check).
 */
export function environmentFor<F extends FunctionName>(fn: F, values: EnvironmentValues<F>): Record<string, string> {
  const given = Object.entries(values as Record<string, string | undefined>).filter((entry): entry is [string, string] => entry[1] !== undefined);
  const problems = environmentProblems(fn, Object.fromEntries(given));
  if (problems.length > 0) throw new Error(problems.join('; '));
  return Object.fromEntries(given);
}
