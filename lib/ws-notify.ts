import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpLambdaAuthorizer, HttpLambdaResponseType, WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption, type TableProps } from 'aws-cdk-lib/aws-dynamodb';
import { AnyPrincipal, Effect, ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Architecture, type IFunction, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
// cdk-nag's own rendering of a policy resource, so that an acknowledgement names it exactly as a finding does.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { Construct } from 'constructs';
import { KEY_USER_INDEX, KEY_USER_INDEX_ATTRIBUTES, REVOCATION_INDEX } from '../lambdas/core/api-keys';
import {
  API_KEY_INDEX,
  DEFAULT_MAX_CONNECTIONS_PER_API_KEY,
  DEFAULT_MAX_CONNECTIONS_PER_USER,
  EXPIRY_INDEX,
  KEEPALIVE_INDEX,
  KEEPALIVE_INDEX_ATTRIBUTES,
  USER_INDEX,
  USER_INDEX_ATTRIBUTES,
} from '../lambdas/core/connections';
import type { KeepaliveMode } from '../lambdas/core/connect-options';
import { ACK_KEY, ACK_TTL_ATTRIBUTE } from '../lambdas/core/acks';
import { LOOK_AHEAD_SECONDS } from '../lambdas/core/credentials';
import {
  DEFAULT_HISTORY_MAX_ENTRIES,
  DEFAULT_HISTORY_TTL_SECONDS,
  DEFAULT_REPLAY_LIMIT,
  STREAM_KEY,
  STREAM_SEQ,
  STREAM_TTL_ATTRIBUTE,
} from '../lambdas/core/streams';
import { CONNECTION_INDEX, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../lambdas/core/subscriptions';
import { grantFrom, groupGrantFrom } from '../lambdas/core/topics';
import { METRICS_NAMESPACE } from '../lambdas/contract/metric-names';
import { type WsNotifyAlarmOptions, WsNotifyObservability } from './observability';

export interface WsNotifyProps extends WsNotifyAlarmOptions {
  /**
   * Issuer (`iss`) of the JWTs accepted at `$connect`: an https URL (http only for loopback hosts).
   * Set it with `jwtAudience` to accept JWTs; leave both out for a stack without JWTs (API keys or
   * anonymous access only).
   * @default no JWTs accepted
   */
  readonly jwtIssuer?: string;
  /**
   * Audience (`aud`) the JWTs must name; set together with `jwtIssuer`.
   * @default no JWTs accepted
   */
  readonly jwtAudience?: string;
  /**
   * Where the issuer publishes its signing keys (only with `jwtIssuer`).
   * @default `${jwtIssuer}/.well-known/jwks.json`
   */
  readonly jwksUri?: string;
  /**
   * Accept API keys (`ws-notify apikey create`) at `$connect`. The API key table exists either way:
   * the HTTP events ingress takes publish keys.
   * @default true
   */
  readonly apiKeys?: boolean;
  /**
   * Let clients connect without a credential. Each such connection is its own user,
   * `anonymous:<connectionId>`, and receives per-connection sends (NotifyConnection) only. A
   * credential that does not verify is refused either way.
   * @default false
   */
  readonly allowAnonymous?: boolean;
  /**
   * The JWT claim that names a connection's tenant (e.g. `org`). When set, a token without it is
   * refused, each connection is stored with its tenant, and a NotifyUser message must name the
   * tenant it is for: a user id alone never reaches across tenants.
   * @default no tenants
   */
  readonly tenantClaim?: string;
  /**
   * Topic patterns any connection may subscribe to, signed in or anonymous (`news`, `status.*`,
   * `*` for all); beyond these, a credential's `topics` grant decides. Publishing always needs a
   * `publishTopics` grant.
   * @default none
   */
  readonly publicTopics?: string[];
  /**
   * Groups any connection may join, signed in or anonymous: topic patterns (any group on those
   * topics) or `<topic>#<group>` patterns. Beyond these, a credential's `groups` grant decides. A
   * group member takes its share of the group's events from the others, so joining is a grant of
   * its own: anonymous connections, which hold no grant, join only these.
   * @default none
   */
  readonly publicGroups?: string[];
  /**
   * Topics one connection may be subscribed to at once; a `subscribe` beyond it is answered
   * `too_many_subscriptions`. Each subscription is a row the topic fan-out reads.
   * @default 100
   */
  readonly maxSubscriptionsPerConnection?: number;
  /**
   * Server keepalives for receive-only clients: API Gateway closes a connection after 10 minutes
   * without traffic, and a client that only listens sends none. `requested`: connections that ask
   * (`?keepalive=1`, a token's `keepalive` claim, an API key made with `--keepalive`) are sent
   * `{"type":"keepalive"}` every 8 minutes, whatever else they receive; `all`: every connection.
   * Each keepalive is a PostToConnection (see the bench's cost per connection-month); `off` adds
   * no function, schedule or index, and refuses `?keepalive=1` with 400.
   * @default 'off'
   */
  readonly keepalive?: KeepaliveMode;
  /**
   * Open connections one user may hold at once (per tenant in a multi-tenant stack); a `$connect`
   * beyond it is refused with 429 and logged. Each connection multiplies what one notification to
   * the user costs. Anonymous connections are each their own user and are not counted.
   * @default 25
   */
  readonly maxConnectionsPerUser?: number;
  /**
   * Open connections one API key may hold at once, besides its user's limit; a `$connect` beyond it
   * is refused with 429 and logged.
   * @default 25
   */
  readonly maxConnectionsPerApiKey?: number;
  /**
   * Functions that enrich a topic's events before they are delivered, by topic pattern (`orders`,
   * `orders.*`; the first that matches). The function receives `{topic, tenant?, event}` and
   * returns `{event, userId?}`: the event to deliver, and, if it concerns one user, that user, whose
   * connections then receive it instead of the topic's subscribers.
   * @default none
   */
  readonly enrichers?: Record<string, IFunction>;
  /**
   * The IAM principals that may post on the events ingress's IAM route
   * (`POST /iam/topics/{topic}/events`), as ARN patterns in which `*` matches any run of characters,
   * matched against the caller's ARN: `arn:aws:iam::<account>:user/<name>`, or for a role
   * `arn:aws:sts::<account>:assumed-role/<role>/*`. Any other caller is refused 403
   * `forbidden_principal`. HTTP APIs have no resource policies, so without this any principal of the
   * account whose IAM policies allow `execute-api:Invoke` on the route may publish to any topic and tenant.
   * @default any principal the account's IAM policies let through
   */
  readonly eventsIamPrincipals?: string[];
  /**
   * Keep every user notification and topic event in its stream (per tenant and user, per tenant and
   * topic), numbered `seq` 1, 2, 3 …, so that clients can `resume` after a reconnect, page through
   * `history` and `subscribe` from a position. Each notification and event is then one more write
   * (its entry) and one strongly consistent read. False: nothing is kept, frames carry no `seq`,
   * and the `resume` and `history` routes do not exist.
   * @default true
   */
  readonly history?: boolean;
  /**
   * How long a stream's entries are kept (DynamoDB TTL deletes them later; reads skip them at once).
   * From 1 second to 365 days.
   * @default Duration.hours(24)
   */
  readonly historyTtl?: Duration;
  /**
   * Entries read per stream: older ones count as gone (they stay stored until their TTL).
   * From 1 to 100,000.
   * @default 1000
   */
  readonly historyMaxEntries?: number;
  /**
   * Entries one `resume` replays per stream (and a `subscribe` from a position) at most; a larger
   * gap is answered `recovered:false` with `reason: "replay_limit"`. Each replayed entry is one
   * PostToConnection. From 1 to 10,000.
   * @default 1000
   */
  readonly replayLimit?: number;
  /**
   * The offline fallback: a user notification that none of the user's connections has acked
   * (`{"action":"ack","stream":"user","seq"}`) this long after it was sent goes to the Undelivered
   * queue (`undeliveredQueue`), once, for the backend to e-mail or push it. Each notification then
   * costs one more SQS message (its delayed check). Needs history; from 1 second to 15 minutes (an
   * SQS delivery delay), and shorter than `historyTtl`.
   * @default off: nothing is checked, nothing goes to an Undelivered queue
   */
  readonly ackTimeout?: Duration;
  /**
   * Name of the API stage; it is the last path segment of the WebSocket URL.
   * @default 'live'
   */
  readonly stageName?: string;
  /**
   * Default route throttling of the stage (requests per second, and burst).
   * @default { rateLimit: 500, burstLimit: 1000 }
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * What happens to the tables (connections, API keys, subscriptions) and the dead-letter queues
   * when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the functions' logs and the stage's access log.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * WebSocket access logging needs API Gateway's CloudWatch Logs role, one setting per account and
   * region shared by every API there. When true, the stack creates a role and sets it; both are
   * retained when the stack is deleted, so that no other API (nor a second instance of this stack)
   * loses its logging. Set to false where the account and region already have the role.
   * @default true
   */
  readonly configureApiGatewayAccountLogging?: boolean;
  /**
   * Most NotifyUser consumers running at once (the SQS event source's `maxConcurrency`, 2 to 1000).
   * Each posts to up to 10 connections itself: with the two below, it bounds the Lambda concurrency
   * a burst of notifications takes from `$connect` and the authorizer, and the @connections calls it
   * makes on the account's API Gateway request quota.
   * @default 20
   */
  readonly notifyUserConcurrency?: number;
  /**
   * Most NotifyConnection consumers running at once (2 to 1000): they make most @connections posts
   * of a large fan-out.
   * @default 40
   */
  readonly notifyConnectionConcurrency?: number;
  /**
   * Most topic fan-out consumers (the Publish queue) running at once (2 to 1000).
   * @default 10
   */
  readonly publishConcurrency?: number;
}

/** Consumers get up to this long per batch; their queues' visibility timeout is 6× this. */
const CONSUMER_TIMEOUT = Duration.seconds(30);
/** Credentials come from the environment in Lambda: the rest of the SDK's default chain is dead weight in a bundle. */
export const BUNDLING_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(__dirname, '..', 'lambdas', 'wiring', 'credentials-from-environment.ts'),
};
/** Lambda's SQS event source takes at most 10 records per batch without a batching window. */
const SQS_BATCH_SIZE = 10;
/** AWS's recommendation for Lambda consumers: enough receives to ride out throttling. */
const MAX_RECEIVE_COUNT = 5;
/** A keepalive run posts for most of its minute, and is done before the next one starts. */
const KEEPALIVE_TIMEOUT = Duration.seconds(55);
/** SQS holds a message back at most this long (DelaySeconds). */
const MAX_SQS_DELAY_SECONDS = 15 * 60;
/** Consumers running at once per queue, unless set: 70 of an account's default 1,000. */
const DEFAULT_CONSUMER_CONCURRENCY = { notifyUserConcurrency: 20, notifyConnectionConcurrency: 40, publishConcurrency: 10 } as const;

/**
 * The ws-notify notification stack: a WebSocket API whose `$connect` takes a JWT, an API key or
 * (opt-in) no credential, a connection table, and the NotifyUser → NotifyConnection queues that
 * push to connections.
 */
export class WsNotify extends Construct {
  public readonly webSocketApi: WebSocketApi;
  public readonly stage: WebSocketStage;
  public readonly connectionsTable: Table;
  /** API keys (`ws-notify apikey`): one row per key, holding the SHA-256 of its secret, never the secret. */
  public readonly apiKeysTable: Table;
  public readonly notifyUserQueue: Queue;
  public readonly notifyConnectionQueue: Queue;
  public readonly notifyUserDeadLetterQueue: Queue;
  public readonly notifyConnectionDeadLetterQueue: Queue;
  /** The open connections of each user and API key (a set of ids per item), counted against their limits at `$connect`. */
  public readonly connectionCountsTable: Table;
  /** Topic subscriptions: by topic (plain and grouped partitions), and by connection through a GSI. */
  public readonly subscriptionsTable: Table;
  /**
   * The streams (prop `history`): one item per entry, partition key `stream` (`user:<tenant>:<user>`
   * or `topic:<tenant>:<topic>`), sort key `seq`, TTL `expiresAt`. Undefined with `history: false`.
   */
  public readonly streamsTable: Table | undefined;
  /**
   * The users' acked positions (with `history`): one item per user stream, partition key `stream`
   * (the user stream's key), `ackedSeq`, `epoch`, `ackedAt`, TTL `expiresAt`. Undefined with `history: false`.
   */
  public readonly acksTable: Table | undefined;
  /**
   * With `ackTimeout`: the notifications no connection of their user acked in time, one message
   * each, `{userId, tenant?, stream: "user", seq, epoch, notification: {id, time, data}}`, for the
   * backend to consume. Its messages go to `undeliveredDeadLetterQueue` after 5 failed receives.
   */
  public readonly undeliveredQueue: Queue | undefined;
  public readonly undeliveredDeadLetterQueue: Queue | undefined;
  /** With `ackTimeout`: holds each notification's check for `ackTimeout` (its delivery delay). */
  public readonly ackCheckQueue: Queue | undefined;
  public readonly ackCheckDeadLetterQueue: Queue | undefined;
  /** Send `{"topic","event":<CloudEvent>}` here to publish to a topic's subscribers. */
  public readonly publishQueue: Queue;
  /** Dead letters of the Publish queue and of the topic pages queue. */
  public readonly publishDeadLetterQueue: Queue;
  /**
   * Internal: the topic fan-out's own queue, a page of subscribers per message: the events the
   * server stamped with their publisher (clients' `publish`, the events ingress), and the rest of a
   * large topic's fan-out. Only the topic fan-out, Publish and EventsIngress functions may send here
   * (the queue policy denies everyone else).
   */
  public readonly topicPagesQueue: Queue;
  /** The HTTP events ingress: `POST /topics/{topic}/events` (publish API keys), `POST /iam/topics/{topic}/events` (IAM). */
  public readonly eventsApi: HttpApi;
  /** The stack's functions by id ('Authorize', 'Connect', 'NotifyUser', …); the enrichers passed in are not among them. */
  public readonly functions: Readonly<Record<string, IFunction>>;
  /** The alarms, the dashboard and the alarm topic. */
  public readonly observability: WsNotifyObservability;
  /** The JWT claim that names a tenant (prop `tenantClaim`); undefined in a single-tenant stack. */
  public readonly tenantClaim: string | undefined;

  private readonly logRetention: RetentionDays;
  private readonly functionsById: Record<string, NodejsFunction> = {};

  constructor(scope: Construct, id: string, props: WsNotifyProps) {
    super(scope, id);
    const auth = authModes(props);
    const concurrency = consumerConcurrency(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    this.functions = this.functionsById;

    // Every table: on demand, encrypted, point-in-time recoverable, kept on stack deletion by default.
    const newTable = (id: string, keys: Pick<TableProps, 'partitionKey' | 'sortKey' | 'timeToLiveAttribute'>) =>
      new Table(this, id, {
        ...keys,
        billingMode: BillingMode.PAY_PER_REQUEST,
        encryption: TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy,
      });

    this.connectionsTable = newTable('Connections', {
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });
    this.connectionsTable.addGlobalSecondaryIndex({
      indexName: USER_INDEX,
      partitionKey: { name: 'userId', type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: USER_INDEX_ATTRIBUTES,
    });
    this.connectionsTable.addGlobalSecondaryIndex({
      indexName: EXPIRY_INDEX,
      partitionKey: { name: 'expiryBucket', type: AttributeType.STRING },
      sortKey: { name: 'credentialExpiresAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    this.connectionsTable.addGlobalSecondaryIndex({
      indexName: API_KEY_INDEX,
      partitionKey: { name: 'keyId', type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    if (keepaliveMode(props.keepalive) !== 'off') {
      // Sparse: only keepalive connections carry a slot, so the sweep reads exactly those due.
      this.connectionsTable.addGlobalSecondaryIndex({
        indexName: KEEPALIVE_INDEX,
        partitionKey: { name: 'keepaliveSlot', type: AttributeType.STRING },
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: KEEPALIVE_INDEX_ATTRIBUTES,
      });
    }

    // TTL: an item outlives its newest connection by nothing; one left by lost $disconnects goes.
    this.connectionCountsTable = newTable('ConnectionCounts', {
      partitionKey: { name: 'owner', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });

    // No TTL: expired and revoked keys stay listed.
    this.apiKeysTable = newTable('ApiKeys', { partitionKey: { name: 'keyId', type: AttributeType.STRING } });
    this.apiKeysTable.addGlobalSecondaryIndex({
      indexName: KEY_USER_INDEX,
      partitionKey: { name: 'userId', type: AttributeType.STRING },
      sortKey: { name: 'createdAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: KEY_USER_INDEX_ATTRIBUTES,
    });
    this.apiKeysTable.addGlobalSecondaryIndex({
      indexName: REVOCATION_INDEX,
      partitionKey: { name: 'revocationBucket', type: AttributeType.STRING },
      sortKey: { name: 'revokedAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    this.subscriptionsTable = newTable('Subscriptions', {
      partitionKey: { name: 'topicKey', type: AttributeType.STRING },
      sortKey: { name: 'connectionId', type: AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });
    this.subscriptionsTable.addGlobalSecondaryIndex({
      indexName: CONNECTION_INDEX,
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      sortKey: { name: 'topicKey', type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    const history = historySettings(props);
    // No index: entries are read by stream and seq only, so each costs exactly its own write.
    this.streamsTable = history
      ? newTable('Streams', {
          partitionKey: { name: STREAM_KEY, type: AttributeType.STRING },
          sortKey: { name: STREAM_SEQ, type: AttributeType.NUMBER },
          timeToLiveAttribute: STREAM_TTL_ATTRIBUTE,
        })
      : undefined;
    const streams: Record<string, string> = history && this.streamsTable ? { STREAMS_TABLE_NAME: this.streamsTable.tableName, ...history } : {};
    // One item per user stream, rewritten by each ack that moves it forward.
    this.acksTable = history ? newTable('Acks', { partitionKey: { name: ACK_KEY, type: AttributeType.STRING }, timeToLiveAttribute: ACK_TTL_ATTRIBUTE }) : undefined;
    const ackTimeout = ackTimeoutOf(props);

    // Dead letters are kept like the tables: they are the messages that still need an operator.
    const deadLetterQueue = (id: string) => this.queue(id, { retentionPeriod: Duration.days(14), removalPolicy });
    this.notifyUserDeadLetterQueue = deadLetterQueue('NotifyUserDeadLetterQueue');
    this.notifyUserQueue = this.queue('NotifyUserQueue', this.consumedQueue(this.notifyUserDeadLetterQueue));
    this.notifyConnectionDeadLetterQueue = deadLetterQueue('NotifyConnectionDeadLetterQueue');
    this.notifyConnectionQueue = this.queue('NotifyConnectionQueue', this.consumedQueue(this.notifyConnectionDeadLetterQueue));
    this.publishDeadLetterQueue = deadLetterQueue('PublishDeadLetterQueue');
    this.publishQueue = this.queue('PublishQueue', this.consumedQueue(this.publishDeadLetterQueue));
    this.topicPagesQueue = this.queue('TopicPagesQueue', this.consumedQueue(this.publishDeadLetterQueue));
    if (ackTimeout !== undefined) {
      this.ackCheckDeadLetterQueue = deadLetterQueue('AckCheckDeadLetterQueue');
      this.ackCheckQueue = this.queue('AckCheckQueue', { ...this.consumedQueue(this.ackCheckDeadLetterQueue), deliveryDelay: ackTimeout });
      // FIFO: a check retried after its holder died sends again, and the deduplication id drops the
      // repeat; a user's messages keep their order (grouped per user, high throughput per group).
      const fifo = { fifo: true, deduplicationScope: DeduplicationScope.MESSAGE_GROUP, fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID };
      this.undeliveredDeadLetterQueue = this.queue('UndeliveredDeadLetterQueue', { ...fifo, retentionPeriod: Duration.days(14), removalPolicy });
      // Consumed by the backend: a message it fails 5 times is kept aside, like ours.
      this.undeliveredQueue = this.queue('UndeliveredQueue', {
        ...fifo,
        retentionPeriod: Duration.days(14),
        removalPolicy,
        deadLetterQueue: { queue: this.undeliveredDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      });
    }

    // Every function that removes a connection takes it out of its user's and key's counts too.
    const table = { CONNECTIONS_TABLE_NAME: this.connectionsTable.tableName, CONNECTION_COUNTS_TABLE_NAME: this.connectionCountsTable.tableName };
    const keys = { API_KEYS_TABLE_NAME: this.apiKeysTable.tableName };
    const subscriptions = { SUBSCRIPTIONS_TABLE_NAME: this.subscriptionsTable.tableName };
    const publicTopics = validTopicPatterns('publicTopics', props.publicTopics ?? []);
    const publicGroups = validPatterns(groupGrantFrom, 'publicGroups', props.publicGroups ?? []);
    this.tenantClaim = props.tenantClaim === undefined ? undefined : validTenantClaim(props.tenantClaim);
    const tenancy: Record<string, string> = this.tenantClaim === undefined ? {} : { TENANT_CLAIM: this.tenantClaim };
    const tokens = { ...auth.jwt, ...tenancy };
    const authorizeFn = this.function('Authorize', 'authorize', {
      ...tokens,
      ...(auth.apiKeys && keys),
      ACCEPT_API_KEYS: String(auth.apiKeys),
      ALLOW_ANONYMOUS: String(auth.anonymous),
    });
    const publicGrants = { PUBLIC_TOPICS: JSON.stringify(publicTopics), PUBLIC_GROUPS: JSON.stringify(publicGroups) };
    // A refresh ends the subscriptions its grants, with the public ones, no longer cover.
    const authenticateFn = this.function('Authenticate', 'authenticate', { ...tokens, ...table, ...subscriptions, ...publicGrants });
    const maxSubscriptions = props.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
    if (!Number.isInteger(maxSubscriptions) || maxSubscriptions < 1) {
      throw new Error(`maxSubscriptionsPerConnection must be a whole number of at least 1, not ${maxSubscriptions}`);
    }
    const keepalive = keepaliveMode(props.keepalive);
    // `?subscribe=` and the credential's autoSubscribe are subscribed in $connect's own transaction,
    // with exactly the checks of a `subscribe` frame.
    const connectFn = this.function('Connect', 'connect', {
      ...table,
      ...subscriptions,
      ...publicGrants,
      MAX_CONNECTIONS_PER_USER: String(wholeNumberFrom1('maxConnectionsPerUser', props.maxConnectionsPerUser ?? DEFAULT_MAX_CONNECTIONS_PER_USER)),
      MAX_CONNECTIONS_PER_API_KEY: String(wholeNumberFrom1('maxConnectionsPerApiKey', props.maxConnectionsPerApiKey ?? DEFAULT_MAX_CONNECTIONS_PER_API_KEY)),
      MAX_SUBSCRIPTIONS_PER_CONNECTION: String(maxSubscriptions),
      KEEPALIVE: keepalive,
    });
    const disconnectFn = this.function('Disconnect', 'disconnect', { ...table, ...subscriptions });
    // Both read the grants a refresh stored on the connection's row.
    const subscribeFn = this.function('Subscribe', 'subscribe', {
      ...subscriptions,
      ...table,
      ...publicGrants,
      MAX_SUBSCRIPTIONS_PER_CONNECTION: String(maxSubscriptions),
    });
    const unsubscribeFn = this.function('Unsubscribe', 'unsubscribe', { ...subscriptions, ...table });
    const publishFn = this.function('Publish', 'publish', { ...table, TOPIC_PAGES_QUEUE_URL: this.topicPagesQueue.queueUrl });
    // Only a stack with history reads streams: `resume` and `history`, and `subscribe` from a position.
    const streamReaders = history
      ? {
          resume: this.function('Resume', 'resume', { ...subscriptions, ...table, ...publicGrants, ...streams }),
          history: this.function('History', 'history', { ...subscriptions, ...table, ...publicGrants, ...streams }),
        }
      : undefined;
    if (history) for (const [name, value] of Object.entries(streams)) subscribeFn.addEnvironment(name, value);
    const defaultFn = this.function('Default', 'default', {});
    const pingFn = this.function('Ping', 'ping', {});
    const ackFn = this.acksTable && this.function('Ack', 'ack', { ...streams, ACKS_TABLE_NAME: this.acksTable.tableName });

    this.webSocketApi = new WebSocketApi(this, 'Api', {
      description: 'ws-notify: push notifications to WebSocket clients',
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration('ConnectIntegration', connectFn),
        authorizer: new WebSocketLambdaAuthorizer('Authorizer', authorizeFn, {
          // Empty on purpose: API Gateway answers 401 without calling the authorizer when any listed
          // source is missing, and a token may arrive in a header, the query string or a subprotocol.
          identitySource: [],
        }),
      },
      disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', disconnectFn) },
      defaultRouteOptions: {
        integration: new WebSocketLambdaIntegration('DefaultIntegration', defaultFn),
        returnResponse: true,
      },
    });
    this.webSocketApi.addRoute('ping', {
      integration: new WebSocketLambdaIntegration('PingIntegration', pingFn),
      returnResponse: true,
    });
    for (const [routeKey, fn] of [
      ['authenticate', authenticateFn],
      ['subscribe', subscribeFn],
      ['unsubscribe', unsubscribeFn],
      ['publish', publishFn],
      ...(streamReaders ? ([['resume', streamReaders.resume], ['history', streamReaders.history]] as const) : []),
    ] as const) {
      const id = routeKey[0]!.toUpperCase() + routeKey.slice(1);
      this.webSocketApi.addRoute(routeKey, { integration: new WebSocketLambdaIntegration(`${id}Integration`, fn), returnResponse: true });
    }
    // Answered `acked`, so a client knows its position is stored; clients batch their acks.
    if (ackFn) this.webSocketApi.addRoute('ack', { integration: new WebSocketLambdaIntegration('AckIntegration', ackFn), returnResponse: true });

    const accessLog = new LogGroup(this, 'AccessLog', { retention: this.logRetention, removalPolicy });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.webSocketApi,
      stageName: props.stageName ?? 'live',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 500, burstLimit: 1000 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLog),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            status: '$context.status',
            sourceIp: '$context.identity.sourceIp',
            requestTime: '$context.requestTimeEpoch',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integration.error',
          }),
        ),
      },
    });
    if (props.configureApiGatewayAccountLogging ?? true) {
      this.stage.node.addDependency(this.apiGatewayAccountLogging());
    }

    // Ends, with an `unsubscribed` frame, the subscriptions a refresh no longer grants.
    authenticateFn.addEnvironment('MANAGEMENT_API_ENDPOINT', this.stage.callbackUrl);
    // Replays are posted ahead of the reply.
    if (streamReaders) for (const fn of [subscribeFn, streamReaders.resume]) fn.addEnvironment('MANAGEMENT_API_ENDPOINT', this.stage.callbackUrl);
    const notifyUserFn = this.function('NotifyUser', 'notify-user', {
      ...table,
      ...subscriptions,
      ...tenancy,
      ...streams,
      ...(this.ackCheckQueue && { ACK_CHECK_QUEUE_URL: this.ackCheckQueue.queueUrl }),
      MANAGEMENT_API_ENDPOINT: this.stage.callbackUrl,
      NOTIFY_CONNECTION_QUEUE_URL: this.notifyConnectionQueue.queueUrl,
      DEAD_LETTER_QUEUE_URL: this.notifyUserDeadLetterQueue.queueUrl,
    });
    const notifyConnectionFn = this.function('NotifyConnection', 'notify-connection', {
      ...table,
      ...subscriptions,
      MANAGEMENT_API_ENDPOINT: this.stage.callbackUrl,
      DEAD_LETTER_QUEUE_URL: this.notifyConnectionDeadLetterQueue.queueUrl,
    });
    const enrichers = Object.entries(props.enrichers ?? {});
    validTopicPatterns('enrichers', enrichers.map(([pattern]) => pattern));
    const enrichment: Record<string, string> =
      enrichers.length === 0
        ? {}
        : { ...table, ENRICHERS: Stack.of(this).toJsonString(Object.fromEntries(enrichers.map(([pattern, fn]) => [pattern, fn.functionArn]))) };
    // Only a stack with enrichers carries the Lambda client in its fan-out bundle.
    const topicFanOutFn = this.function('TopicFanOut', enrichers.length === 0 ? 'topic-fan-out' : 'enriching-topic-fan-out', {
      ...subscriptions,
      ...tenancy,
      ...enrichment,
      ...streams,
      PUBLIC_TOPICS: JSON.stringify(publicTopics),
      NOTIFY_CONNECTION_QUEUE_URL: this.notifyConnectionQueue.queueUrl,
      TOPIC_PAGES_QUEUE_URL: this.topicPagesQueue.queueUrl,
      TOPIC_PAGES_QUEUE_ARN: this.topicPagesQueue.queueArn,
      DEAD_LETTER_QUEUE_URL: this.publishDeadLetterQueue.queueUrl,
    });
    for (const [fn, queue, maxConcurrency] of [
      [notifyUserFn, this.notifyUserQueue, concurrency.notifyUserConcurrency],
      [notifyConnectionFn, this.notifyConnectionQueue, concurrency.notifyConnectionConcurrency],
      [topicFanOutFn, this.publishQueue, concurrency.publishConcurrency],
      [topicFanOutFn, this.topicPagesQueue, concurrency.publishConcurrency],
    ] as const) {
      fn.addEventSource(new SqsEventSource(queue, { batchSize: SQS_BATCH_SIZE, reportBatchItemFailures: true, maxConcurrency }));
    }

    // Waits up to a minute for credentials about to expire, so it has that minute and room to close them.
    const credentialSweepFn = this.function(
      'CredentialSweep',
      'credential-sweep',
      { ...table, ...keys, ...subscriptions, MANAGEMENT_API_ENDPOINT: this.stage.callbackUrl },
      Duration.seconds(LOOK_AHEAD_SECONDS + 30),
    );
    new Rule(this, 'CredentialSweepSchedule', {
      description: 'ws-notify: close connections whose credential expired or whose API key was revoked',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(credentialSweepFn)],
    });
    const keepaliveFn =
      keepalive === 'off'
        ? undefined
        : this.function('Keepalive', 'keepalive', { ...table, ...subscriptions, MANAGEMENT_API_ENDPOINT: this.stage.callbackUrl }, KEEPALIVE_TIMEOUT);
    if (keepaliveFn) {
      new Rule(this, 'KeepaliveSchedule', {
        description: 'ws-notify: send {"type":"keepalive"} to the keepalive connections of this minute\'s slot',
        schedule: Schedule.rate(Duration.minutes(1)),
        targets: [new LambdaFunction(keepaliveFn)],
      });
    }

    const eventsAuthorizerFn = this.function('EventsAuthorizer', 'events-authorizer', { ...keys, ...tenancy });
    const iamPrincipals: Record<string, string> = props.eventsIamPrincipals === undefined ? {} : { IAM_PRINCIPALS: JSON.stringify(validArnPatterns(props.eventsIamPrincipals)) };
    const eventsIngressFn = this.function('EventsIngress', 'events-ingress', { ...tenancy, ...iamPrincipals, PUBLIC_TOPICS: JSON.stringify(publicTopics), TOPIC_PAGES_QUEUE_URL: this.topicPagesQueue.queueUrl });
    this.eventsApi = new HttpApi(this, 'EventsApi', { description: 'ws-notify: publish CloudEvents to topics', createDefaultStage: false });
    const eventsStage = new HttpStage(this, 'EventsStage', {
      httpApi: this.eventsApi,
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 500, burstLimit: 1000 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(new LogGroup(this, 'EventsAccessLog', { retention: this.logRetention, removalPolicy })),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            sourceIp: '$context.identity.sourceIp',
            requestTime: '$context.requestTimeEpoch',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const ingress = new HttpLambdaIntegration('EventsIngressIntegration', eventsIngressFn);
    this.eventsApi.addRoutes({
      path: '/topics/{topic}/events',
      methods: [HttpMethod.POST],
      integration: ingress,
      authorizer: new HttpLambdaAuthorizer('EventsAuthorizer', eventsAuthorizerFn, {
        responseTypes: [HttpLambdaResponseType.SIMPLE],
        // A key may arrive in a header or the query string: no single identity source to pre-check.
        identitySource: [],
        // Not cached, so that a revoked key is refused at once.
        resultsCacheTtl: Duration.seconds(0),
      }),
    });
    this.eventsApi.addRoutes({
      path: '/iam/topics/{topic}/events',
      methods: [HttpMethod.POST],
      integration: ingress,
      authorizer: new HttpIamAuthorizer(),
    });

    // Least privilege: each function gets exactly the actions its code uses, on exactly its resources.
    const tableArn = this.connectionsTable.tableArn;
    const subscriptionsArn = this.subscriptionsTable.tableArn;
    const bySubscriber = `${subscriptionsArn}/index/${CONNECTION_INDEX}`;
    const countsArn = this.connectionCountsTable.tableArn;
    // One transaction (its per-item actions): the row, and the connection into its user's and key's
    // sets; at a limit, the set is read and its ids' rows too, and those gone are taken out.
    allow(connectFn, ['dynamodb:PutItem', 'dynamodb:BatchGetItem'], [tableArn]);
    allow(connectFn, ['dynamodb:UpdateItem', 'dynamodb:GetItem'], [countsArn]);
    // …and, in the same transaction, the subscriptions asked for at connect.
    allow(connectFn, ['dynamodb:PutItem'], [subscriptionsArn]);
    allow(disconnectFn, ['dynamodb:DeleteItem'], [tableArn]);
    // Each removal of a connection takes it out of its sets.
    const removers = [disconnectFn, notifyUserFn, notifyConnectionFn, credentialSweepFn, ...(keepaliveFn ? [keepaliveFn] : [])];
    for (const fn of removers) allow(fn, ['dynamodb:UpdateItem'], [countsArn]);
    // Removing a connection's subscriptions: Query its index, BatchWriteItem the deletes.
    for (const fn of removers) {
      allow(fn, ['dynamodb:Query'], [bySubscriber]);
      allow(fn, ['dynamodb:BatchWriteItem'], [subscriptionsArn]);
    }
    // One transaction (its per-item actions): the topic into the connection row's set, counted
    // against the limit there, and the subscription's row.
    allow(subscribeFn, ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [subscriptionsArn]);
    allow(subscribeFn, ['dynamodb:UpdateItem'], [tableArn]);
    allow(unsubscribeFn, ['dynamodb:DeleteItem'], [subscriptionsArn]);
    allow(unsubscribeFn, ['dynamodb:UpdateItem'], [tableArn]);
    allow(publishFn, ['sqs:SendMessage'], [this.topicPagesQueue.queueArn]);
    allow(topicFanOutFn, ['dynamodb:Query'], [subscriptionsArn]);
    if (enrichers.length > 0) {
      // The unqualified ARNs that ENRICHERS names, nothing more (grantInvoke would add every version, `:*`).
      allow(topicFanOutFn, ['lambda:InvokeFunction'], enrichers.map(([, fn]) => fn.functionArn));
      allow(topicFanOutFn, ['dynamodb:Query'], [`${tableArn}/index/${USER_INDEX}`]);
    }
    allow(eventsAuthorizerFn, ['dynamodb:GetItem'], [this.apiKeysTable.tableArn]);
    allow(eventsIngressFn, ['sqs:SendMessage'], [this.topicPagesQueue.queueArn]);
    allow(topicFanOutFn, ['sqs:SendMessage'], [
      this.notifyConnectionQueue.queueArn,
      this.topicPagesQueue.queueArn,
      this.publishDeadLetterQueue.queueArn,
    ]);
    // A page starts wherever its cursor says and skips enrichment and groups, and its event's
    // publisher is believed: whoever could send one could suppress or reroute a topic's events, or
    // publish as a user. An explicit deny binds every principal of the account, whatever its own
    // policies allow (aws:PrincipalArn is the role, for its sessions).
    this.topicPagesQueue.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [this.topicPagesQueue.queueArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': [topicFanOutFn, publishFn, eventsIngressFn].map((fn) => fn.role!.roleArn) } },
      }),
    );
    allow(notifyUserFn, ['dynamodb:Query'], [`${tableArn}/index/${USER_INDEX}`]);
    if (this.streamsTable) {
      // Append: read the stream's newest entry, put the next one.
      for (const fn of [notifyUserFn, topicFanOutFn]) allow(fn, ['dynamodb:Query', 'dynamodb:PutItem'], [this.streamsTable.tableArn]);
    }
    if (ackFn && this.streamsTable && this.acksTable) {
      // An ack reads its stream's newest entry (the epoch), then moves the acked position forward.
      allow(ackFn, ['dynamodb:Query'], [this.streamsTable.tableArn]);
      allow(ackFn, ['dynamodb:UpdateItem'], [this.acksTable.tableArn]);
    }
    if (this.ackCheckQueue && this.ackCheckDeadLetterQueue && this.undeliveredQueue && this.streamsTable && this.acksTable) {
      const ackCheckFn = this.function('AckCheck', 'ack-check', {
        ...streams,
        ACKS_TABLE_NAME: this.acksTable.tableName,
        UNDELIVERED_QUEUE_URL: this.undeliveredQueue.queueUrl,
        DEAD_LETTER_QUEUE_URL: this.ackCheckDeadLetterQueue.queueUrl,
      });
      ackCheckFn.addEventSource(new SqsEventSource(this.ackCheckQueue, { batchSize: SQS_BATCH_SIZE, reportBatchItemFailures: true }));
      allow(notifyUserFn, ['sqs:SendMessage'], [this.ackCheckQueue.queueArn]);
      allow(ackCheckFn, ['dynamodb:GetItem'], [this.acksTable.tableArn]);
      // Claim the entry, then mark it sent: once per notification.
      allow(ackCheckFn, ['dynamodb:UpdateItem'], [this.streamsTable.tableArn]);
      allow(ackCheckFn, ['sqs:SendMessage'], [this.undeliveredQueue.queueArn, this.ackCheckDeadLetterQueue.queueArn]);
    }
    allow(notifyUserFn, ['sqs:SendMessage'], [
      this.notifyConnectionQueue.queueArn,
      this.notifyUserDeadLetterQueue.queueArn,
    ]);
    allow(notifyConnectionFn, ['sqs:SendMessage'], [this.notifyConnectionDeadLetterQueue.queueArn]);
    // Both post to connections, and remove one found gone.
    for (const fn of [notifyUserFn, notifyConnectionFn]) {
      allow(fn, ['dynamodb:DeleteItem'], [tableArn]);
      allow(fn, ['execute-api:ManageConnections'], [this.manageConnectionsArn('POST')]);
    }
    allow(authenticateFn, ['dynamodb:UpdateItem'], [tableArn]);
    // A refresh lists the connection's subscriptions, reads a grouped one's group, and ends those no longer granted.
    allow(authenticateFn, ['dynamodb:Query'], [bySubscriber]);
    allow(authenticateFn, ['dynamodb:GetItem', 'dynamodb:DeleteItem'], [subscriptionsArn]);
    allow(authenticateFn, ['execute-api:ManageConnections'], [this.manageConnectionsArn('POST')]);
    // The grants a refresh stored, read per frame.
    allow(subscribeFn, ['dynamodb:GetItem'], [tableArn]);
    allow(publishFn, ['dynamodb:GetItem'], [tableArn]);
    if (streamReaders && this.streamsTable) {
      // Both read the grants a refresh stored, and the streams; a resume also reads the connection's subscription and posts the replay.
      for (const fn of [streamReaders.resume, streamReaders.history]) {
        allow(fn, ['dynamodb:GetItem'], [tableArn]);
        allow(fn, ['dynamodb:Query'], [this.streamsTable.tableArn]);
      }
      allow(streamReaders.resume, ['dynamodb:GetItem'], [subscriptionsArn]);
      allow(subscribeFn, ['dynamodb:Query'], [this.streamsTable.tableArn]);
      for (const fn of [subscribeFn, streamReaders.resume]) allow(fn, ['execute-api:ManageConnections'], [this.manageConnectionsArn('POST')]);
    }
    if (auth.apiKeys) allow(authorizeFn, ['dynamodb:GetItem'], [this.apiKeysTable.tableArn]);
    allow(credentialSweepFn, ['dynamodb:Query'], [
      `${tableArn}/index/${EXPIRY_INDEX}`,
      `${tableArn}/index/${API_KEY_INDEX}`,
      `${this.apiKeysTable.tableArn}/index/${REVOCATION_INDEX}`,
    ]);
    allow(credentialSweepFn, ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [tableArn]);
    allow(credentialSweepFn, ['execute-api:ManageConnections'], [this.manageConnectionsArn('POST'), this.manageConnectionsArn('DELETE')]);
    if (keepaliveFn) {
      // The slot's connections, a post to each, and the removal of one found gone (410).
      allow(keepaliveFn, ['dynamodb:Query'], [`${tableArn}/index/${KEEPALIVE_INDEX}`]);
      allow(keepaliveFn, ['dynamodb:DeleteItem'], [tableArn]);
      allow(keepaliveFn, ['execute-api:ManageConnections'], [this.manageConnectionsArn('POST')]);
    }

    this.observability = new WsNotifyObservability(this, 'Observability', {
      serviceName: Stack.of(this).stackName,
      functions: this.functions,
      authorizers: ['Authorize'],
      queues: {
        NotifyUser: { queue: this.notifyUserQueue, deadLetterQueue: this.notifyUserDeadLetterQueue },
        NotifyConnection: { queue: this.notifyConnectionQueue, deadLetterQueue: this.notifyConnectionDeadLetterQueue },
        Publish: { queue: this.publishQueue, deadLetterQueue: this.publishDeadLetterQueue },
        // The topic fan-out's pages dead-letter into the Publish dead-letter queue, watched above.
        TopicPages: { queue: this.topicPagesQueue },
        // Ack checks wait ackTimeout by design, and the backend drains Undelivered at its own pace:
        // only what neither could handle alarms.
        ...(this.ackCheckQueue && { AckCheck: { queue: this.ackCheckQueue, deadLetterQueue: this.ackCheckDeadLetterQueue, watchAge: false } }),
        ...(this.undeliveredQueue && { Undelivered: { queue: this.undeliveredQueue, deadLetterQueue: this.undeliveredDeadLetterQueue, watchAge: false } }),
      },
      webSocketStage: this.stage,
      eventsStage,
      alarmTopic: props.alarmTopic,
      alarmEmail: props.alarmEmail,
      maxQueueMessageAge: props.maxQueueMessageAge,
    });

    this.acknowledgeNagFindings(auth);
  }

  /** The `wss://` URL clients connect to. */
  get webSocketUrl(): string {
    return this.stage.url;
  }

  /** Where events are posted: `POST <eventsUrl>/{topic}/events`. */
  get eventsUrl(): string {
    return `${this.eventsApi.apiEndpoint}/topics`;
  }

  /** The `https://` endpoint of the API Gateway management API (PostToConnection). */
  get managementApiEndpoint(): string {
    return this.stage.callbackUrl;
  }

  private queue(id: string, props: QueueProps): Queue {
    return new Queue(this, id, { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, ...props });
  }

  /** A queue a function consumes: room for 6 consumer timeouts per receive, dead letters after 5. */
  private consumedQueue(deadLetterQueue: Queue): QueueProps {
    return {
      visibilityTimeout: Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    };
  }

  private function(id: string, handler: string, environment: Record<string, string>, timeout = CONSUMER_TIMEOUT): NodejsFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, {
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const fn = new NodejsFunction(this, `${id}Function`, {
      entry: path.join(__dirname, '..', 'lambdas', 'handlers', `${handler}.ts`),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      // The stack's name is the metrics' `service` dimension, so two stacks in one account never mix.
      environment: { POWERTOOLS_SERVICE_NAME: Stack.of(this).stackName, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE, ...environment },
      bundling: {
        minify: true,
        keepNames: true,
        target: 'node22',
        // Bundle the SDK v3 clients (not the runtime's copy) so esbuild tree-shakes them to what is used.
        externalModules: [],
        mainFields: ['module', 'main'],
        esbuildArgs: Object.fromEntries(Object.entries(BUNDLING_ALIASES).map(([module, replacement]) => [`--alias:${module}`, replacement])),
      },
    });
    this.functionsById[id] = fn;
    return fn;
  }

  /** One management API verb (POST: PostToConnection, DELETE: DeleteConnection), on this API's stage only. */
  private manageConnectionsArn(method: 'POST' | 'DELETE'): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.webSocketApi.apiId,
      resourceName: `${this.stage.stageName}/${method}/@connections/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  private apiGatewayAccountLogging(): CfnAccount {
    // The setting is the account's, not this stack's: every API in the region logs through whichever
    // role it names last. Both are retained (as RestApi's cloudWatchRoleRemovalPolicy does by
    // default), so deleting this stack, or one of two instances that each set it, never leaves the
    // account naming a deleted role; the role left behind costs nothing.
    const role = new Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    // No L2 sets the account's CloudWatch role on its own (RestApi does it only for REST APIs).
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    return account;
  }

  /** cdk-nag findings that are deliberate, each acknowledged with its reason. */
  private acknowledgeNagFindings(auth: AuthModes): void {
    const stack = Stack.of(this);
    const managedPolicy = (name: string) => `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`;
    const logsReason =
      'AWS-maintained minimal policy for writing logs; every data-plane permission is an inline least-privilege statement.';
    Validations.of(this).acknowledge(
      { id: managedPolicy('AWSLambdaBasicExecutionRole'), reason: logsReason },
      { id: managedPolicy('AmazonAPIGatewayPushToCloudWatchLogs'), reason: logsReason },
      ...(['POST', 'DELETE'] as const).map((method) => ({
        // Rendered as cdk-nag renders the statement's resource: partition, region and account are
        // literals or <AWS::…> placeholders depending on the stack's environment.
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(this.manageConnectionsArn(method)))}]`,
        reason: `ManageConnections is scoped to ${method} on this stage; connection ids exist only at run time.`,
      })),
      {
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'nodejs22.x is the runtime ws-notify is built and tested for; runtime upgrades are deliberate.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-APIG4',
        reason:
          `A WebSocket API can authorize only $connect; its Lambda authorizer admits ${auth.describe}, and every ` +
          'other route runs on a connection that passed it.',
      },
    );
  }
}

interface AuthModes {
  /** The authorizer's and authenticate's JWT settings; empty where the stack accepts no JWTs. */
  readonly jwt: Record<string, string>;
  readonly apiKeys: boolean;
  readonly anonymous: boolean;
  /** Who the authorizer admits, in words (cdk-nag's APIG4 acknowledgement says it). */
  readonly describe: string;
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
  let jwt: Record<string, string> = {};
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

/** The streams' settings as the functions read them; undefined with `history: false`. */
function historySettings(props: WsNotifyProps): Record<string, string> | undefined {
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
    HISTORY_TTL_SECONDS: String(ttlSeconds),
    HISTORY_MAX_ENTRIES: String(wholeNumberIn('historyMaxEntries', props.historyMaxEntries ?? DEFAULT_HISTORY_MAX_ENTRIES, 100_000)),
    REPLAY_LIMIT: String(wholeNumberIn('replayLimit', props.replayLimit ?? DEFAULT_REPLAY_LIMIT, 10_000)),
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

function allow(fn: NodejsFunction, actions: string[], resources: string[]): void {
  fn.addToRolePolicy(new PolicyStatement({ actions, resources }));
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
