import type { SQSClient } from '@aws-sdk/client-sqs';
import { isAnonymousUserId } from './auth';
import type { ConnectionTable } from './connections';
import { enqueueAll } from './enqueue';
import { type Notification, notificationFrame } from './frames';
import { InvalidMessageError, type NotifyConnectionMessage, type NotifyUserMessage } from './messages';

export interface FanOutDeps {
  connections: ConnectionTable;
  sqs: SQSClient;
  notifyConnectionQueueUrl: string;
  /** The claim tenants come from, in a multi-tenant stack. */
  tenantClaim?: string;
}

/**
 * The tenant a NotifyUser message is confined to. In a multi-tenant stack it must name one, so
 * that a user id alone never reaches across tenants; in a single-tenant stack it must not.
 * Anonymous users exist per connection and receive NotifyConnection only.
 */
export function recipientsOf(message: Pick<NotifyUserMessage, 'userId' | 'tenant'>, tenantClaim: string | undefined): { userId: string; tenant?: string } {
  if (isAnonymousUserId(message.userId)) {
    throw new InvalidMessageError('invalid_message', 'anonymous connections receive NotifyConnection messages only');
  }
  checkTenancy(message.tenant, tenantClaim, "the user's tenant");
  return { userId: message.userId, tenant: message.tenant };
}

/** A message names a tenant in a multi-tenant stack, and none in a single-tenant one. */
export function checkTenancy(tenant: string | undefined, tenantClaim: string | undefined, whose: string): void {
  if (tenantClaim !== undefined && tenant === undefined) {
    throw new InvalidMessageError('invalid_message', `this stack is multi-tenant (tenantClaim "${tenantClaim}"): name ${whose}`);
  }
  if (tenantClaim === undefined && tenant !== undefined) {
    throw new InvalidMessageError('invalid_message', 'this stack has no tenants (no tenantClaim): remove "tenant"');
  }
}

/**
 * User → connections → one NotifyConnection message each. Returns how many connections were
 * enqueued. Throws if any could not be, so the NotifyUser record is retried; a retry may repeat
 * deliveries, which clients recognise by the notification id.
 */
export async function fanOutToUser(
  message: Pick<NotifyUserMessage, 'userId' | 'tenant'>,
  notification: Notification,
  deps: FanOutDeps,
): Promise<number> {
  // Fails before any work if the message is not for this stack or the frame could never be delivered.
  const { userId, tenant } = recipientsOf(message, deps.tenantClaim);
  notificationFrame(notification);
  return enqueueForConnectionsOf(userId, tenant, (connectionId) => ({ connectionId, ...notification }) satisfies NotifyConnectionMessage, deps);
}

/**
 * One NotifyConnection-queue message per live connection of the user (in `tenant`, if given), a
 * Query page at a time. Returns how many were enqueued.
 */
export async function enqueueForConnectionsOf(
  userId: string,
  tenant: string | undefined,
  messageFor: (connectionId: string) => object,
  deps: Pick<FanOutDeps, 'connections' | 'sqs' | 'notifyConnectionQueueUrl'>,
): Promise<number> {
  let enqueued = 0;
  for await (const connectionIds of deps.connections.connectionIdsOf(userId, { ...(tenant !== undefined && { tenant }) })) {
    await enqueueAll(deps.sqs, deps.notifyConnectionQueueUrl, connectionIds.map((connectionId) => JSON.stringify(messageFor(connectionId))));
    enqueued += connectionIds.length;
  }
  return enqueued;
}
