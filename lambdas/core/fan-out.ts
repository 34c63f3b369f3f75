import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isAnonymousUserId } from './auth';
import type { ConnectionRows } from './connections';
import { type DeliverDeps, deliverToConnection } from './deliver';
import { enqueueAll } from './enqueue';
import { type FramePosition, type Notification, notificationFrame, USER_STREAM } from './frames';
import { InvalidMessageError, type NotifyConnectionMessage, type NotifyUserMessage } from './messages';
import { type AppendOrigin, type StreamTable, userStreamKey } from './streams';
import { mayAccess } from './topics';
import type { AckCheckMessage } from './undelivered';

export interface FanOutDeps extends DeliverDeps {
  sqs: SQSClient;
  notifyConnectionQueueUrl: string;
  /** The claim tenants come from, in a multi-tenant stack. */
  tenantClaim?: string;
  /** The streams every notification is appended to; absent on a stack without history. */
  streams?: StreamTable;
  /** With `ackTimeout` on: the AckCheck queue, which holds each appended notification's check for that long. */
  ackCheckQueueUrl?: string;
}

/**
 * The widest position a frame may carry (a replayed one: `replay` too), so that a frame is checked
 * against API Gateway's limit before its entry is appended, not after.
 */
export function widestPosition(stream: string): FramePosition {
  return { stream, seq: Number.MAX_SAFE_INTEGER, epoch: 'x'.repeat(64) };
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
 * checkTenancy for a topic's event. On a multi-tenant stack, an event of a public topic may name no
 * tenant: it then reaches the topic's subscribers that have none, the anonymous connections (a
 * tenant's own subscribers get that tenant's events). Returns whether it is such an event.
 */
export function checkTopicTenancy(
  { topic, tenant }: { topic: string; tenant?: string | undefined },
  { tenantClaim, publicTopics = [] }: { tenantClaim?: string | undefined; publicTopics?: readonly string[] | undefined },
  whose: string,
): boolean {
  if (tenantClaim !== undefined && tenant === undefined && mayAccess(publicTopics, topic)) return true;
  checkTenancy(tenant, tenantClaim, whose);
  return false;
}

/**
 * Up to this many connections, notify-user posts the frame itself: a user's few tabs and devices
 * cost a Query and their PostToConnections, with no second queue hop. More go through the
 * NotifyConnection queue, whose consumers post to them in parallel.
 */
export const DIRECT_DELIVERY_MAX_CONNECTIONS = 10;

export interface FanOutResult {
  /** Posted to by notify-user itself. */
  delivered: number;
  /** Found gone (410) and removed. */
  gone: number;
  /** Handed to the NotifyConnection queue: every connection of a user with many, or a post that failed. */
  queued: number;
  /** Why the posts that were handed on for retry failed. */
  failures: { connectionId: string; error: unknown }[];
}

/**
 * User → (the user's stream) → connections → the frame. With streams on, the notification is
 * appended to its user's stream first, also when the user has no connection, and every frame
 * carries its position. A user with few connections gets it from here; a post that
 * fails (throttled past the SDK's retries, say) is retried alone through the NotifyConnection
 * queue, so its siblings are not posted to twice. Throws if anything could not be enqueued, so the
 * NotifyUser record is retried; a retry may repeat deliveries, which clients recognise by the
 * notification id (and seq), and finds its entry rather than appending again. `origin`: the
 * NotifyUser message (`sentAt`: when it was sent, epoch milliseconds).
 */
export async function fanOutToUser(
  message: Pick<NotifyUserMessage, 'userId' | 'tenant'>,
  notification: Notification,
  origin: AppendOrigin,
  deps: FanOutDeps,
): Promise<FanOutResult & { position?: FramePosition }> {
  // Fails before any work if the message is not for this stack or the frame could never be delivered.
  const { userId, tenant } = recipientsOf(message, deps.tenantClaim);
  notificationFrame(notification, deps.streams && widestPosition(USER_STREAM), true);
  deps.metrics.add('NotificationsReceived');
  const position = deps.streams && { stream: USER_STREAM, ...(await deps.streams.append(userStreamKey(userId, tenant), notification, origin)) };
  // Before any delivery: a record that fails here is retried and finds its entry, then sends its check.
  if (position && deps.ackCheckQueueUrl !== undefined) {
    const check: AckCheckMessage = { userId, ...(tenant !== undefined && { tenant }), seq: position.seq, epoch: position.epoch };
    await deps.sqs.send(new SendMessageCommand({ QueueUrl: deps.ackCheckQueueUrl, MessageBody: JSON.stringify(check) }));
  }
  const frame = notificationFrame(notification, position);
  const { sentAt } = origin;
  const messageFor = (connectionId: string) =>
    ({ connectionId, handOff: true, ...notification, ...(position && { seq: position.seq, epoch: position.epoch }) }) satisfies NotifyConnectionMessage;

  const pages = deps.connections.connectionIdsOf(userId, { ...(tenant !== undefined && { tenant }) });
  const few: string[] = [];
  let page = await pages.next();
  while (!page.done && few.length + page.value.length <= DIRECT_DELIVERY_MAX_CONNECTIONS) {
    few.push(...page.value);
    page = await pages.next();
  }
  if (page.done) {
    deps.metrics.add('FanOutSize', few.length);
    return { ...(await deliverEach(few, frame, sentAt, messageFor, deps)), ...(position && { position }) };
  }
  const queued = await enqueueForEach(startingWith([...few, ...page.value], pages), messageFor, deps);
  deps.metrics.add('FanOutSize', queued);
  return { delivered: 0, gone: 0, queued, failures: [], ...(position && { position }) };
}

async function deliverEach(
  connectionIds: string[],
  frame: string,
  sentAt: number,
  messageFor: (connectionId: string) => object,
  deps: FanOutDeps,
): Promise<FanOutResult> {
  const outcomes = await Promise.allSettled(connectionIds.map((connectionId) => deliverToConnection(connectionId, frame, sentAt, deps)));
  const result: FanOutResult = { delivered: 0, gone: 0, queued: 0, failures: [] };
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.status === 'fulfilled') result[outcome.value] += 1;
    // A frame API Gateway refuses is refused for every connection: the record goes to the dead-letter queue.
    else if (outcome.reason instanceof InvalidMessageError) throw outcome.reason;
    else result.failures.push({ connectionId: connectionIds[index] as string, error: outcome.reason });
  }
  result.queued = await enqueueForEach([result.failures.map(({ connectionId }) => connectionId)], messageFor, deps);
  return result;
}

/**
 * One NotifyConnection-queue message per live connection of the user (in `tenant`, if given), a
 * Query page at a time. Returns how many were enqueued.
 */
export async function enqueueForConnectionsOf(
  userId: string,
  tenant: string | undefined,
  messageFor: (connectionId: string) => object,
  deps: Pick<FanOutDeps, 'sqs' | 'notifyConnectionQueueUrl'> & { connections: Pick<ConnectionRows, 'connectionIdsOf'> },
): Promise<number> {
  return enqueueForEach(deps.connections.connectionIdsOf(userId, { ...(tenant !== undefined && { tenant }) }), messageFor, deps);
}

/** One NotifyConnection-queue message per connection id, a page of ids at a time. Returns how many were enqueued. */
async function enqueueForEach(
  pages: AsyncIterable<string[]> | Iterable<string[]>,
  messageFor: (connectionId: string) => object,
  deps: Pick<FanOutDeps, 'sqs' | 'notifyConnectionQueueUrl'>,
): Promise<number> {
  let enqueued = 0;
  for await (const connectionIds of pages) {
    await enqueueAll(deps.sqs, deps.notifyConnectionQueueUrl, connectionIds.map((connectionId) => JSON.stringify(messageFor(connectionId))));
    enqueued += connectionIds.length;
  }
  return enqueued;
}

async function* startingWith<T>(first: T, rest: AsyncIterable<T>): AsyncGenerator<T> {
  yield first;
  yield* rest;
}
