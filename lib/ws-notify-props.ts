import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { KeepaliveMode } from '../lambdas/core/connect-options';
import type { WsNotifyAlarmOptions } from './observability';


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
