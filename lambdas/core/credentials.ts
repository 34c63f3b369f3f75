import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import * as z from 'zod/mini';
import type { VerifiedIdentity, VerifyToken } from './auth';
import type { ApiKeyTable } from './api-keys';
import type { ConnectionTable, ExpiringCredential } from './connections';
import type { SubscriptionTable } from './subscriptions';
import { authenticatedFrame, errorFrame, parseJson, tooDeepFrame } from './frames';
import { nestsTooDeep } from './json';

const AuthenticateFrame = z.object({ action: z.literal('authenticate'), token: z.string().check(z.minLength(1)) });

/** Who a connection is, as its `$connect` authorizer said. */
export interface ConnectionIdentity {
  connectionId: string;
  userId: string;
  tenant?: string;
}

/**
 * `{"action":"authenticate","token"}`: replaces the connection's credential with a fresh token for
 * the same user (and tenant), so that it is not closed when the first one expires. Returns the
 * reply frame.
 */
export async function refreshCredential(
  body: string | undefined,
  connection: ConnectionIdentity,
  deps: { verifyToken: VerifyToken; connections: ConnectionTable },
): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const request = AuthenticateFrame.safeParse(frame);
  if (!request.success) return errorFrame('invalid_frame', 'authenticate takes {"action":"authenticate","token":"<jwt>"}', frame);
  let identity: VerifiedIdentity;
  try {
    identity = await deps.verifyToken(request.data.token);
  } catch (error) {
    return errorFrame('invalid_credential', `the token does not verify: ${(error as Error).message}`, frame);
  }
  if (identity.userId !== connection.userId || identity.tenant !== connection.tenant) {
    return errorFrame('user_mismatch', 'the token must name the user (and tenant) this connection belongs to', frame);
  }
  if (!(await deps.connections.refreshCredential(connection.connectionId, identity.expiresAt))) {
    return errorFrame('invalid_credential', 'this connection is closing', frame);
  }
  return authenticatedFrame(identity.expiresAt, frame);
}

export interface SweepDeps {
  connections: ConnectionTable;
  subscriptions: SubscriptionTable;
  managementApi: ApiGatewayManagementApiClient;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Sweeps look this far back, for runs that were late or missed. */
const LOOK_BACK_SECONDS = 15 * 60;
/** …and this far ahead, waiting for those to expire, so that none outlives its `exp` by a full schedule period. */
export const LOOK_AHEAD_SECONDS = 60;

/** Closed now; skipped (refreshed meanwhile, or another sweep closed it); or the connection was already gone. */
export type SweepOutcome = 'closed' | 'skipped' | 'gone';

/**
 * One run of the expiry sweep (every minute): each connection whose credential has expired, or
 * expires within the next minute, is told `credential_expired` and closed at its `exp`, unless the
 * client refreshed it in the meantime.
 */
export async function expireCredentials(deps: SweepDeps): Promise<Record<SweepOutcome, number>> {
  const now = deps.now ?? (() => Date.now());
  const sleep = deps.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const nowSeconds = Math.floor(now() / 1000);
  const due: ExpiringCredential[] = [];
  for await (const credential of deps.connections.credentialsExpiring(nowSeconds - LOOK_BACK_SECONDS, nowSeconds + LOOK_AHEAD_SECONDS)) {
    due.push(credential);
  }
  const outcomes = await Promise.all(
    due.map(async ({ connectionId, credentialExpiresAt }) => {
      await sleep(Math.max(0, credentialExpiresAt * 1000 - now()));
      // The index is eventually consistent and the client may have refreshed since the Query: the claim decides.
      if (!(await deps.connections.claimExpired(connectionId, Math.floor(now() / 1000)))) return 'skipped';
      return close(connectionId, 'credential_expired', 'the credential this connection was opened with has expired; reconnect with a fresh one', deps);
    }),
  );
  return tally(outcomes);
}

/**
 * One run of the revocation sweep (every minute, beside the expiry sweep): each connection opened
 * with a key revoked in the last 15 minutes is told `credential_revoked` and closed. Looking back
 * that far also catches a connection whose `$connect` passed the authorizer just before the
 * revocation and was stored just after it.
 */
export async function closeRevokedKeyConnections(deps: SweepDeps & { apiKeys: ApiKeyTable }): Promise<Record<SweepOutcome, number>> {
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  const outcomes: Promise<SweepOutcome>[] = [];
  for await (const keyId of deps.apiKeys.revokedBetween(nowSeconds - LOOK_BACK_SECONDS, nowSeconds)) {
    for await (const connectionId of deps.connections.connectionIdsOpenedWith(keyId)) {
      outcomes.push(
        (async () => {
          if (!(await deps.connections.claimRevoked(connectionId))) return 'skipped';
          return close(connectionId, 'credential_revoked', 'the API key this connection was opened with has been revoked', deps);
        })(),
      );
    }
  }
  return tally(await Promise.all(outcomes));
}

/** Tells a claimed connection why, then closes it. */
async function close(
  connectionId: string,
  code: 'credential_expired' | 'credential_revoked',
  message: string,
  deps: Pick<SweepDeps, 'connections' | 'subscriptions' | 'managementApi'>,
): Promise<SweepOutcome> {
  try {
    await deps.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: errorFrame(code, message) }));
    // API Gateway then runs $disconnect, which deletes the row.
    await deps.managementApi.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    return 'closed';
  } catch (error) {
    if (!(error instanceof GoneException)) throw error;
    await Promise.all([deps.connections.remove(connectionId), deps.subscriptions.removeAllOf(connectionId)]);
    return 'gone';
  }
}

function tally(outcomes: SweepOutcome[]): Record<SweepOutcome, number> {
  return {
    closed: outcomes.filter((outcome) => outcome === 'closed').length,
    skipped: outcomes.filter((outcome) => outcome === 'skipped').length,
    gone: outcomes.filter((outcome) => outcome === 'gone').length,
  };
}

