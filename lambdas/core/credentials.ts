import type { UnsubscribedFrame } from '../../client/src/protocol';
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import * as z from 'zod/mini';
import type { VerifyToken } from './auth';
import type { PublicGrants, VerifiedIdentity } from './identity';
import type { ApiKeyTable } from './api-keys';
import { type CloseClaim, type CloseReason, type ConnectionRows, type ConnectionTable, removeConnection, type StoredGrants } from './connections';
import { mayAccess, mayJoin } from './topics';
import type { SubscriptionTable } from './subscriptions';
import { authenticatedFrame, type ErrorCode, errorFrame, parseJson, tooDeepFrame } from './frames';
import { nestsTooDeep } from './json';

const AuthenticateFrame = z.object({ action: z.literal('authenticate'), token: z.string().check(z.minLength(1)) });

/** Who a connection is, as its `$connect` authorizer said. */
export interface ConnectionIdentity {
  connectionId: string;
  userId: string;
  tenant?: string;
}

/**
 * What `authenticate` needs: the issuer's verifier (absent on a stack with JWT off), the tables, the
 * stack's public grants and the management API (to end the subscriptions a refresh no longer
 * grants), and where refusals are logged.
 */
export interface RefreshDeps {
  verifyToken: VerifyToken | undefined;
  connections: Pick<ConnectionRows, 'refreshCredential'>;
  subscriptions: SubscriptionTable;
  /** The stack's `publicTopics` and `publicGroups`, which every credential holds. */
  publicGrants: PublicGrants;
  managementApi: ApiGatewayManagementApiClient;
  /** Gets the reason for each refusal, which the client is never told (it gets a code). */
  logRefusal?: (reason: string) => void;
}

/**
 * `{"action":"authenticate","token"}`: replaces the connection's credential with a fresh token for
 * the same user (and tenant), so that it is not closed when the first one expires, and its grants
 * with the token's: each subscription they no longer cover (topic, or group) ends, and the client is
 * sent `{"type":"unsubscribed","topic","reason":"grant_revoked"}` for it before the reply. Returns
 * the reply frame.
 */
export async function refreshCredential(body: string | undefined, connection: ConnectionIdentity, deps: RefreshDeps): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const refuse = (code: ErrorCode, message: string, reason: string) => {
    deps.logRefusal?.(reason);
    return errorFrame(code, message, frame);
  };
  if (deps.verifyToken === undefined) {
    return refuse('jwt_not_enabled', 'this stack does not accept tokens, so there is nothing to refresh', 'JWT is not enabled on this stack');
  }
  const request = AuthenticateFrame.safeParse(frame);
  if (!request.success) {
    return refuse('invalid_credential', 'authenticate takes {"action":"authenticate","token":"<jwt>"}', 'no token, or a token that is not a string');
  }
  let identity: VerifiedIdentity;
  try {
    identity = await deps.verifyToken(request.data.token);
  } catch (error) {
    return refuse('invalid_credential', 'the token does not verify', (error as Error).message);
  }
  if (identity.userId !== connection.userId || identity.tenant !== connection.tenant) {
    return refuse('user_mismatch', 'the token must name the user (and tenant) this connection belongs to', 'the token names another user or tenant');
  }
  const grants: StoredGrants = { subscribe: identity.topics ?? [], publish: identity.publishTopics ?? [], groups: identity.groups ?? [] };
  if (!(await deps.connections.refreshCredential(connection.connectionId, identity.expiresAt, grants))) {
    return refuse('invalid_credential', 'this connection is closing', 'the connection is closing');
  }
  await endUngrantedSubscriptions(connection, grants, deps);
  return authenticatedFrame(identity.expiresAt, frame);
}

/** Ends each of the connection's subscriptions that its new grants (with the stack's public ones) do not cover. */
async function endUngrantedSubscriptions(connection: ConnectionIdentity, grants: StoredGrants, deps: RefreshDeps): Promise<void> {
  const topics = [...grants.subscribe, ...deps.publicGrants.topics];
  const groups = [...grants.groups, ...deps.publicGrants.groups];
  for (const { topic, group } of await deps.subscriptions.subscriptionsOf(connection.connectionId)) {
    if (mayAccess(topics, topic) && (group === undefined || mayJoin(groups, topic, group))) continue;
    await deps.subscriptions.unsubscribe(connection.connectionId, topic, connection.tenant);
    try {
      await deps.managementApi.send(
        new PostToConnectionCommand({ ConnectionId: connection.connectionId, Data: JSON.stringify({ type: 'unsubscribed', topic, reason: 'grant_revoked' } satisfies UnsubscribedFrame) }),
      );
    } catch (error) {
      // A connection that is gone has nobody to tell; its subscriptions are ended all the same.
      if (!(error instanceof GoneException)) throw error;
    }
  }
}

export interface SweepDeps {
  connections: ConnectionTable;
  subscriptions: SubscriptionTable;
  managementApi: ApiGatewayManagementApiClient;
  /** Epoch milliseconds by which the run must be done: the Lambda's remaining time. */
  deadline: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Sweeps look this far back, for runs that were late or missed, and for what earlier runs left. */
const LOOK_BACK_SECONDS = 15 * 60;
/** …and this far ahead, waiting for those to expire, so that none outlives its `exp` by a full schedule period. */
export const LOOK_AHEAD_SECONDS = 60;

/**
 * Kept back from a run's deadline for the closes it has claimed (a claim, a post and a
 * DeleteConnection, each with the SDK's retries): no claim is made later than this before it.
 */
export const CLOSE_RESERVE_MS = 20_000;
/**
 * Closes in flight at once, per sweep: a mass expiry is worked through at a bounded rate rather
 * than spending the account's API Gateway request quota, which delivery shares, all at once.
 */
const CLOSE_CONCURRENCY = 10;
/**
 * Attempts at closing one connection before the sweep gives up on it. Failed attempts are retried
 * by the next runs (one a minute, or once a dead run's claim lapses), so five attempts span at most
 * about ten minutes: within the look-back, which each claim restarts (`claimClose`).
 */
export const MAX_CLOSE_ATTEMPTS = 5;
/**
 * A claim holds until its run's deadline, when Lambda has ended the run whatever happened, plus
 * this margin for clocks: no other sweep can close the connection while one may be closing it.
 */
const CLAIM_MARGIN_SECONDS = 30;

/**
 * Per connection: closed now; gone already; skipped (refreshed meanwhile, or another sweep holds or
 * gave up on it); failed (a later run retries it); abandoned (its last attempt failed); deferred
 * (not reached before the run's deadline: the next run finds it again).
 */
export type SweepOutcome = 'closed' | 'gone' | 'skipped' | 'failed' | 'abandoned' | 'deferred';

/** An attempt at closing a connection that failed with something other than Gone. */
export interface CloseFailure {
  connectionId: string;
  reason: CloseReason;
  /** 1 for the first attempt; 0 if the claim itself failed. */
  attempt: number;
  /** True if this was the last attempt. */
  abandoned: boolean;
  error: string;
}

export type SweepReport = Record<SweepOutcome, number> & { failures: CloseFailure[] };

/** A connection a sweep found to close, and when (epoch seconds). */
interface DueClose {
  connectionId: string;
  reason: CloseReason;
  at: number;
}

/**
 * One run of the expiry sweep (every minute): each connection whose credential has expired, or
 * expires within the next minute, is told `credential_expired` and closed at its `exp`, unless the
 * client refreshed it in the meantime. It also retries the failed closes of both sweeps, which
 * `claimClose` puts in the expiry index.
 */
export async function expireCredentials(deps: SweepDeps): Promise<SweepReport> {
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  const due: DueClose[] = [];
  // In order of expiry (by minute bucket, then the index's sort key): the oldest are closed first.
  for await (const credential of deps.connections.credentialsExpiring(nowSeconds - LOOK_BACK_SECONDS, nowSeconds + LOOK_AHEAD_SECONDS)) {
    due.push({ connectionId: credential.connectionId, reason: 'credential_expired', at: credential.credentialExpiresAt });
  }
  return closeAll(due, deps);
}

/**
 * One run of the revocation sweep (every minute, beside the expiry sweep): each connection opened
 * with a key revoked in the last 15 minutes is told `credential_revoked` and closed. Looking back
 * that far also catches a connection whose `$connect` passed the authorizer just before the
 * revocation and was stored just after it, and what earlier runs did not reach.
 */
export async function closeRevokedKeyConnections(deps: SweepDeps & { apiKeys: ApiKeyTable }): Promise<SweepReport> {
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  const due: DueClose[] = [];
  for await (const keyId of deps.apiKeys.revokedBetween(nowSeconds - LOOK_BACK_SECONDS, nowSeconds)) {
    for await (const connectionId of deps.connections.connectionIdsOpenedWith(keyId)) {
      due.push({ connectionId, reason: 'credential_revoked', at: nowSeconds });
    }
  }
  return closeAll(due, deps);
}

/** Closes the connections in order, a few at a time, each at its time, until the run's deadline. */
async function closeAll(due: DueClose[], deps: SweepDeps): Promise<SweepReport> {
  const report: SweepReport = { closed: 0, gone: 0, skipped: 0, failed: 0, abandoned: 0, deferred: 0, failures: [] };
  let next = 0;
  const worker = async () => {
    for (let item = due[next++]; item; item = due[next++]) report[await closeWhenDue(item, deps, report.failures)] += 1;
  };
  await Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, due.length) }, worker));
  return report;
}

async function closeWhenDue({ connectionId, reason, at }: DueClose, deps: SweepDeps, failures: CloseFailure[]): Promise<SweepOutcome> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const wait = Math.max(0, at * 1000 - now());
  if (now() + wait > deps.deadline - CLOSE_RESERVE_MS) return 'deferred';
  await sleep(wait);
  let claim: CloseClaim | undefined;
  let notified = false;
  try {
    // The index is eventually consistent and the client may have refreshed since the Query: the claim decides.
    claim = await deps.connections.claimClose(connectionId, {
      reason,
      nowSeconds: Math.floor(now() / 1000),
      until: Math.ceil(deps.deadline / 1000) + CLAIM_MARGIN_SECONDS,
      maxAttempts: MAX_CLOSE_ATTEMPTS,
    });
    if (!claim) return 'skipped';
    notified = claim.notified;
    if (!notified) {
      await deps.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: errorFrame(claim.reason, REASON_MESSAGES[claim.reason]) }));
      notified = true;
    }
    // API Gateway then runs $disconnect, which deletes the row.
    await deps.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    return 'closed';
  } catch (error) {
    if (error instanceof GoneException) {
      await removeConnection(connectionId, deps);
      return 'gone';
    }
    const abandoned = claim !== undefined && claim.attempt >= MAX_CLOSE_ATTEMPTS;
    failures.push({ connectionId, reason: claim?.reason ?? reason, attempt: claim?.attempt ?? 0, abandoned, error: describe(error) });
    if (!claim) return 'failed';
    if (!abandoned) {
      await deps.connections.releaseClaim(connectionId, claim, notified);
      return 'failed';
    }
    // It stays open until API Gateway ends it, 2 hours after it connected at most; meanwhile it
    // gets no more notifications or topic events.
    await Promise.all([deps.connections.abandonClose(connectionId, claim, Math.floor(now() / 1000), notified), deps.subscriptions.removeAllOf(connectionId)]);
    return 'abandoned';
  }
}

const REASON_MESSAGES: Record<CloseReason, string> = {
  credential_expired: 'the credential this connection was opened with has expired; reconnect with a fresh one',
  credential_revoked: 'the API key this connection was opened with has been revoked',
};

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
