import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ConnectionRows } from './connections';
import { enqueueAll } from './enqueue';
import type { EnrichmentResult } from './enrichment';
import { checkTopicTenancy, enqueueForConnectionsOf, widestPosition } from './fan-out';
import { eventFrame, type FramePosition, topicStream } from './frames';
import type { MetricsRecorder } from './metrics';
import { InvalidMessageError } from './messages';
import { type AppendOrigin, type StreamTable, topicStreamKey } from './streams';
import { chooseMember, type SubscriptionTable } from './subscriptions';
import { type CloudEvent, type EventDelivery, eventTypeMatches, MAX_GROUPS_PER_TOPIC, PUBLISHER_ATTRIBUTE, type PublishMessage, stampPublisher, type TopicPage } from './topics';

export interface TopicFanOutDeps {
  subscriptions: SubscriptionTable;
  sqs: SQSClient;
  notifyConnectionQueueUrl: string;
  /** Where a large topic's next page is handed on, to be fanned out by another invocation meanwhile: the fan-out's own queue. */
  topicPagesQueueUrl: string;
  tenantClaim?: string;
  /** The stack's public topics: on a multi-tenant stack, their events may name no tenant, for the anonymous subscribers. */
  publicTopics?: string[];
  /** Subscribers per page. @default 1000 */
  pageSize?: number;
  /** Topics whose events a function enriches first, and how to reach the users they name. */
  enrichment?: Enrichment;
  /** The streams every event is appended to; absent on a stack without history. */
  streams?: StreamTable;
  metrics: MetricsRecorder;
}

export interface Enrichment {
  /** How the topic's events are enriched, if a function enriches them. */
  enricherOf(topic: string): ((message: PublishMessage) => Promise<EnrichmentResult>) | undefined;
  connections: Pick<ConnectionRows, 'connectionIdsOf'>;
}

export const DEFAULT_PAGE_SIZE = 1000;

/** Where a page of a topic's fan-out starts: absent for the first, a TopicPage's cursors (and the event's position) for the rest. */
export type PageCursors = Pick<TopicPage, 'after' | 'groups' | 'seq' | 'epoch'>;

/**
 * Event → the topic's subscribers whose filters pass its type, and one member of each group →
 * one NotifyConnection delivery each. One page of plain subscribers and one of group members per
 * invocation: when there are more, the rest is enqueued as a TopicPage first, so that a topic of
 * 10,000 subscribers is worked through by several invocations at once rather than one long one.
 * A group's member is chosen over all its members, so the page carries each group's choice so far
 * and the chosen members are sent the event after the last page of members. The first page (a
 * Publish message, or a server-stamped event on the fan-out's own queue: no cursors) enriches the
 * event and, with streams on, appends it to the topic's stream (`origin`: the queue message, so
 * that a retry finds its entry instead of appending again); a continuation (`cursors`, from the
 * fan-out's own queue only) does neither and carries the position on. Every delivery carries it.
 * An event the enricher sends to one user is not a topic event for the topic's subscribers: it is
 * not appended, and carries no position. Returns how many deliveries were enqueued.
 */
export async function fanOutToTopic(
  received: PublishMessage,
  deps: TopicFanOutDeps,
  cursors?: PageCursors,
  origin?: AppendOrigin,
): Promise<{ enqueued: number; continued: boolean; position?: FramePosition }> {
  const forAnonymous = checkTopicTenancy(received, deps, "the topic's tenant (only a public topic's event may name none)");
  // A continuation carries a cursor; a page with none is the event's first (a Publish message, or a stamped event on the page queue).
  const first = cursors?.after === undefined && cursors?.groups === undefined;
  // Enriched once, on the first page; the pages after it carry the enriched event.
  const enrich = first ? deps.enrichment?.enricherOf(received.topic) : undefined;
  const enriched = enrich === undefined ? undefined : await enrich(received);
  // The enricher may change the event, not who published it.
  const message = enriched === undefined ? received : { ...received, event: restamped(enriched.event, received.event) };
  const { topic, tenant, event } = message;
  // Fails before any work if the frame could never be delivered.
  eventFrame(topic, event, deps.streams && widestPosition(topicStream(topic)), true);
  // Counted on its first page only: the continuation pages are the same event.
  if (first) deps.metrics.add('TopicEvents');
  if (enriched?.userId !== undefined && forAnonymous) {
    // Without a tenant, a user id would reach that user in every tenant.
    throw new InvalidMessageError('invalid_message', `the enricher named user "${enriched.userId}" for an event of no tenant, on a multi-tenant stack`);
  }
  if (enriched?.userId !== undefined && deps.enrichment) {
    // An enriched event that concerns one user goes to that user's connections (in the tenant), subscribed or not.
    const toUser = { ...deps, connections: deps.enrichment.connections };
    const enqueued = await enqueueForConnectionsOf(enriched.userId, tenant, (connectionId) => ({ connectionId, topic, event }) satisfies EventDelivery, toUser);
    return { enqueued, continued: false };
  }

  const position = first ? await appended(message, deps, origin) : carried(topic, cursors);
  const at = position && { seq: position.seq, epoch: position.epoch };
  const limit = deps.pageSize ?? DEFAULT_PAGE_SIZE;
  const recipients: string[] = [];
  let plainAfter: string | undefined;
  if (first || cursors?.after !== undefined) {
    const page = await deps.subscriptions.plainSubscribers(topic, tenant, { limit, ...(cursors?.after !== undefined && { after: cursors.after }) });
    recipients.push(...page.subscribers.filter((subscriber) => eventTypeMatches(subscriber.events, event.type)).map((s) => s.connectionId));
    plainAfter = page.after;
  }
  let groups: TopicPage['groups'];
  const groupState = first ? { chosen: [] } : cursors?.groups;
  if (groupState !== undefined) {
    const page = await deps.subscriptions.groupMembers(topic, tenant, { limit, ...(groupState.after !== undefined && { after: groupState.after }) });
    // CloudEvents are unique by source and id: the same event picks the same member on every retry.
    const chosen = chooseMembers(new Map(groupState.chosen), page.members.filter((member) => eventTypeMatches(member.events, event.type)), `${event.source}\0${event.id}`);
    if (chosen.size > MAX_GROUPS_PER_TOPIC) {
      throw new InvalidMessageError('too_many_groups', `topic "${topic}" has more than ${MAX_GROUPS_PER_TOPIC} groups whose filters pass the event`);
    }
    if (page.after === undefined) recipients.push(...chosen.values());
    else groups = { after: page.after, chosen: [...chosen] };
  }
  if (plainAfter !== undefined || groups !== undefined) {
    const rest: TopicPage = { topic, ...(tenant !== undefined && { tenant }), event, ...at, ...(plainAfter !== undefined && { after: plainAfter }), ...(groups && { groups }) };
    await deps.sqs.send(new SendMessageCommand({ QueueUrl: deps.topicPagesQueueUrl, MessageBody: JSON.stringify(rest) }));
  }
  const bodies = recipients.map((connectionId) => JSON.stringify({ connectionId, topic, event, ...at } satisfies EventDelivery));
  await enqueueAll(deps.sqs, deps.notifyConnectionQueueUrl, bodies);
  return { enqueued: bodies.length, continued: plainAfter !== undefined || groups !== undefined, ...(position && { position }) };
}

/** The event's entry in its topic's stream, appended on its first page (streams on). */
async function appended({ topic, tenant, event }: PublishMessage, deps: TopicFanOutDeps, origin: AppendOrigin | undefined): Promise<FramePosition | undefined> {
  if (!deps.streams) return undefined;
  if (!origin) throw new Error('a first page appends to the topic stream: pass its origin');
  return { stream: topicStream(topic), ...(await deps.streams.append(topicStreamKey(topic, tenant), { topic, event }, origin)) };
}

/** The position a continuation carries from the first page. */
function carried(topic: string, cursors: PageCursors | undefined): FramePosition | undefined {
  if (cursors?.seq === undefined || cursors.epoch === undefined) return undefined;
  return { stream: topicStream(topic), seq: cursors.seq, epoch: cursors.epoch };
}

/** Each group's member so far (by group), with this page's members weighed against it. */
function chooseMembers(chosen: Map<string, string>, members: readonly { connectionId: string; group: string }[], eventKey: string): Map<string, string> {
  for (const member of members) {
    const current = chosen.get(member.group);
    const candidates = current === undefined ? [member] : [{ connectionId: current }, member];
    chosen.set(member.group, chooseMember(candidates, eventKey)!.connectionId);
  }
  return chosen;
}

function restamped(enriched: CloudEvent, received: CloudEvent): CloudEvent {
  const publisher = received[PUBLISHER_ATTRIBUTE];
  return typeof publisher === 'string' ? stampPublisher(enriched, publisher) : enriched;
}
