/**
 * The environment of each function: one declaration per function of the variables the construct
 * sets and the handler reads, so that the two never agree through the same string typed twice.
 * The construct builds a function's environment with `environmentFor` (at synth time); the handler
 * reads it once, at cold start, with `readEnvironment` (lambdas/wiring/environment.ts), which fails
 * the start loudly on a required variable that is missing or unreadable.
 *
 * Constants and types only, with no import: lib/ imports this file, and so does every bundle.
 * Variable names and values are an API of deployed stacks: never rename one.
 */

/** How a value is written: a name, URL or ARN; a whole number; `true` or `false`; JSON; one of a few words. */
export type VariableKind = 'text' | 'count' | 'flag' | 'json' | 'keepalive';

/** The keepalive modes (construct prop `keepalive`). */
export const KEEPALIVE_MODES = ['off', 'requested', 'all'] as const;
export type KeepaliveMode = (typeof KEEPALIVE_MODES)[number];

/** Every variable a function may be given: how it is written, and what it holds. */
export const VARIABLES = {
  // Tables
  CONNECTIONS_TABLE_NAME: { kind: 'text', holds: 'the connections table: one row per open connection' },
  CONNECTION_COUNTS_TABLE_NAME: {
    kind: 'text',
    holds: "each user's and API key's open connections (sets of ids): counted at $connect, released by every removal of a connection",
  },
  SUBSCRIPTIONS_TABLE_NAME: { kind: 'text', holds: 'the topic subscriptions, one row per connection and topic' },
  API_KEYS_TABLE_NAME: { kind: 'text', holds: 'the API keys, one row per key' },
  STREAMS_TABLE_NAME: { kind: 'text', holds: "the users' and topics' streams (history); absent: a stack with `history: false`" },
  ACKS_TABLE_NAME: { kind: 'text', holds: "the users' acked stream positions" },
  // History
  HISTORY_TTL_SECONDS: { kind: 'count', holds: 'how long a stream entry (and an ack) is kept, in seconds (prop `historyTtl`)' },
  HISTORY_MAX_ENTRIES: { kind: 'count', holds: 'entries kept per stream (prop `historyMaxEntries`)' },
  REPLAY_LIMIT: { kind: 'count', holds: 'entries one resume replays per stream (prop `replayLimit`)' },
  // Queues and APIs
  MANAGEMENT_API_ENDPOINT: { kind: 'text', holds: "the WebSocket stage's callback URL, for PostToConnection and DeleteConnection" },
  NOTIFY_CONNECTION_QUEUE_URL: { kind: 'text', holds: 'the NotifyConnection queue: one delivery to one connection per message' },
  TOPIC_PAGES_QUEUE_URL: { kind: 'text', holds: "the topic fan-out's own queue: stamped events and a large topic's further pages" },
  TOPIC_PAGES_QUEUE_ARN: { kind: 'text', holds: "that queue's ARN, which tells the fan-out's records from the Publish queue's" },
  ACK_CHECK_QUEUE_URL: { kind: 'text', holds: 'the AckCheck queue (prop `ackTimeout`): each appended notification checked that long after' },
  UNDELIVERED_QUEUE_URL: { kind: 'text', holds: 'the Undelivered queue (FIFO): notifications not acked in time, for the backend' },
  DEAD_LETTER_QUEUE_URL: { kind: 'text', holds: "the dead-letter queue of the queue the function consumes, for a message no retry can fix" },
  // Authentication and tenancy
  ALLOW_ANONYMOUS: { kind: 'flag', holds: 'a connection without a credential is admitted as an anonymous user of its own (prop `allowAnonymous`)' },
  ACCEPT_API_KEYS: { kind: 'flag', holds: '`connect` API keys are accepted (prop `apiKeys`)' },
  JWT_ISSUER: { kind: 'text', holds: 'the `iss` of accepted tokens; with JWT_AUDIENCE and JWKS_URI, or none of the three (JWT off)' },
  JWT_AUDIENCE: { kind: 'text', holds: 'the `aud` of accepted tokens' },
  JWKS_URI: { kind: 'text', holds: "the https URL of the issuer's keys" },
  TENANT_CLAIM: { kind: 'text', holds: 'the claim that names a credential\'s tenant; absent: a single-tenant stack' },
  IAM_PRINCIPALS: { kind: 'json', holds: 'the ARN patterns of the AWS principals that may post events (a JSON list; prop `eventsIamPrincipals`)' },
  // Limits and grants
  MAX_CONNECTIONS_PER_USER: { kind: 'count', holds: 'open connections one user (in one tenant) may hold' },
  MAX_CONNECTIONS_PER_API_KEY: { kind: 'count', holds: 'open connections one API key may hold' },
  MAX_SUBSCRIPTIONS_PER_CONNECTION: { kind: 'count', holds: 'topic subscriptions one connection may hold' },
  KEEPALIVE: { kind: 'keepalive', holds: 'which connections get server keepalives: off, requested (those that ask) or all' },
  PUBLIC_TOPICS: { kind: 'json', holds: 'topic patterns every connection may subscribe to (a JSON list; prop `publicTopics`)' },
  PUBLIC_GROUPS: { kind: 'json', holds: 'group patterns every connection may join (a JSON list; prop `publicGroups`)' },
  ENRICHERS: { kind: 'json', holds: "topic pattern → the ARN of the function that enriches its events (a JSON object; prop `enrichers`)" },
} as const satisfies Record<string, { kind: VariableKind; holds: string }>;

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

// Groups the construct sets together.
const STREAMS = ['STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES', 'REPLAY_LIMIT'] as const;
const JWT = ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWKS_URI'] as const;
const PUBLIC_GRANTS = ['PUBLIC_TOPICS', 'PUBLIC_GROUPS'] as const;

/**
 * Each function's environment, by its handler (`lambdas/handlers/<name>.ts`). A function that
 * removes connections requires the counts table with the connections table: every removal
 * releases the connection's counts.
 */
export const FUNCTION_ENVIRONMENTS = {
  /** The `$connect` authorizer. API_KEYS_TABLE_NAME is required where ACCEPT_API_KEYS is true. */
  authorize: { required: ['ALLOW_ANONYMOUS', 'ACCEPT_API_KEYS'], optional: [...JWT, 'TENANT_CLAIM', 'API_KEYS_TABLE_NAME'], unread: [] },
  /** `authenticate`: a refresh stores the new grants and ends the subscriptions they no longer cover. */
  authenticate: {
    required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT'],
    optional: [...JWT, 'TENANT_CLAIM', ...PUBLIC_GRANTS],
    unread: ['CONNECTION_COUNTS_TABLE_NAME'],
  },
  /** `$connect`: stores the connection, counted against its limits, with its subscriptions at connect. KEEPALIVE absent: off. */
  connect: {
    required: [
      'CONNECTIONS_TABLE_NAME',
      'CONNECTION_COUNTS_TABLE_NAME',
      'SUBSCRIPTIONS_TABLE_NAME',
      'MAX_CONNECTIONS_PER_USER',
      'MAX_CONNECTIONS_PER_API_KEY',
      'MAX_SUBSCRIPTIONS_PER_CONNECTION',
    ],
    optional: ['KEEPALIVE', ...PUBLIC_GRANTS],
    unread: [],
  },
  /** `$disconnect`: removes the connection and its subscriptions. */
  disconnect: { required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME'], optional: [], unread: [] },
  /** `subscribe`; with history (STREAMS_TABLE_NAME and its settings, and MANAGEMENT_API_ENDPOINT), from a position. */
  subscribe: {
    required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MAX_SUBSCRIPTIONS_PER_CONNECTION'],
    optional: [...PUBLIC_GRANTS, ...STREAMS, 'MANAGEMENT_API_ENDPOINT'],
    unread: ['CONNECTION_COUNTS_TABLE_NAME'],
  },
  /** `unsubscribe`. PUBLIC_TOPICS is read, though the construct does not set it today. */
  unsubscribe: {
    required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME'],
    optional: ['PUBLIC_TOPICS'],
    unread: ['CONNECTION_COUNTS_TABLE_NAME'],
  },
  /** `publish`: onto the fan-out's own queue. */
  publish: { required: ['CONNECTIONS_TABLE_NAME', 'TOPIC_PAGES_QUEUE_URL'], optional: [], unread: ['CONNECTION_COUNTS_TABLE_NAME'] },
  /** `resume`: only on a stack with history. */
  resume: {
    required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', ...STREAMS, 'MANAGEMENT_API_ENDPOINT'],
    optional: [...PUBLIC_GRANTS],
    unread: ['CONNECTION_COUNTS_TABLE_NAME'],
  },
  /** `history`: only on a stack with history. */
  history: {
    required: ['CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES'],
    optional: [...PUBLIC_GRANTS],
    unread: ['CONNECTION_COUNTS_TABLE_NAME', 'REPLAY_LIMIT'],
  },
  /** `ack`: only on a stack with history. */
  ack: {
    required: ['STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES', 'ACKS_TABLE_NAME'],
    optional: [],
    unread: ['REPLAY_LIMIT'],
  },
  /** `$default`: answers without any setting. */
  default: { required: [], optional: [], unread: [] },
  /** `ping`: answers without any setting. */
  ping: { required: [], optional: [], unread: [] },
  /** The NotifyUser queue: a notification to each connection of a user; appended to the user's stream with history. */
  'notify-user': {
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
  },
  /** The NotifyConnection queue: one delivery to one connection. */
  'notify-connection': {
    required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT', 'DEAD_LETTER_QUEUE_URL'],
    optional: [],
    unread: [],
  },
  /** The Publish queue and the fan-out's own, on a stack without enrichers. */
  'topic-fan-out': {
    required: ['SUBSCRIPTIONS_TABLE_NAME', 'NOTIFY_CONNECTION_QUEUE_URL', 'TOPIC_PAGES_QUEUE_URL', 'TOPIC_PAGES_QUEUE_ARN', 'DEAD_LETTER_QUEUE_URL'],
    optional: ['TENANT_CLAIM', 'PUBLIC_TOPICS', 'STREAMS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES'],
    unread: ['REPLAY_LIMIT'],
  },
  /** The same, on a stack with enrichers: they may name a user, found through the connections table. */
  'enriching-topic-fan-out': {
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
  },
  /** Every minute: closes connections whose credential expired or whose API key was revoked. */
  'credential-sweep': {
    required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'API_KEYS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT'],
    optional: [],
    unread: [],
  },
  /** Every minute, with `keepalive` on: the keepalives of the minute's slot. */
  keepalive: {
    required: ['CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT'],
    optional: [],
    unread: [],
  },
  /** The events ingress's API key authorizer. */
  'events-authorizer': { required: ['API_KEYS_TABLE_NAME'], optional: ['TENANT_CLAIM'], unread: [] },
  /** The HTTP events ingress. */
  'events-ingress': { required: ['TOPIC_PAGES_QUEUE_URL'], optional: ['TENANT_CLAIM', 'IAM_PRINCIPALS', 'PUBLIC_TOPICS'], unread: [] },
  /** The AckCheck queue, with `ackTimeout`: an unacked notification to the Undelivered queue. */
  'ack-check': {
    required: ['STREAMS_TABLE_NAME', 'ACKS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'UNDELIVERED_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL'],
    optional: [],
    unread: ['HISTORY_MAX_ENTRIES', 'REPLAY_LIMIT'],
  },
} as const satisfies Record<string, FunctionEnvironment>;

/** A function, by the name of its handler file (`lambdas/handlers/<name>.ts`). */
export type FunctionName = keyof typeof FUNCTION_ENVIRONMENTS;

export type RequiredVariable<F extends FunctionName> = (typeof FUNCTION_ENVIRONMENTS)[F]['required'][number];
export type OptionalVariable<F extends FunctionName> = (typeof FUNCTION_ENVIRONMENTS)[F]['optional'][number];
export type UnreadVariable<F extends FunctionName> = (typeof FUNCTION_ENVIRONMENTS)[F]['unread'][number];

/** A variable's value as the handler reads it. */
export type VariableValue<N extends VariableName> = {
  text: string;
  count: number;
  flag: boolean;
  json: unknown;
  keepalive: KeepaliveMode;
}[(typeof VARIABLES)[N]['kind']];

/** What `readEnvironment(fn)` returns: each required variable read, each optional one where set. */
export type Environment<F extends FunctionName> = { readonly [N in RequiredVariable<F>]: VariableValue<N> } & {
  readonly [N in OptionalVariable<F>]?: VariableValue<N>;
};

/**
 * What the construct gives a function (values as Lambda takes them: strings, CDK tokens included):
 * every required variable, any optional or unread one.
 */
export type EnvironmentValues<F extends FunctionName> = { readonly [N in RequiredVariable<F>]: string } & {
  readonly [N in OptionalVariable<F> | UnreadVariable<F>]?: string;
};

/** The variables by name, for a construct that adds one at a time: `fn.addEnvironment(Variable.MANAGEMENT_API_ENDPOINT, url)`. */
export const Variable = Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, name])) as { readonly [N in VariableName]: N };

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
