import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ConnectionTable } from './connections';
import { enqueueAll } from './enqueue';
import type { EnrichmentResult } from './enrichment';
import { checkTopicTenancy, enqueueForConnectionsOf } from './fan-out';
import { InvalidMessageError } from './messages';
import { eventFrame } from './frames';
import type { MetricsRecorder } from './metrics';
import { chooseMember, type SubscriptionTable } from './subscriptions';
import { type CloudEvent, type EventDelivery, eventTypeMatches, PUBLISHER_ATTRIBUTE, type PublishMessage, stampPublisher, type TopicPage } from './topics';

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
  metrics: MetricsRecorder;
}

export interface Enrichment {
  /** How the topic's events are enriched, if a function enriches them. */
  enricherOf(topic: string): ((message: PublishMessage) => Promise<EnrichmentResult>) | undefined;
  connections: ConnectionTable;
}

export const DEFAULT_PAGE_SIZE = 1000;

/**
 * Event → the topic's subscribers whose filters pass its type, and one member of each group →
 * one NotifyConnection delivery each. One page of plain subscribers per invocation: when there are
 * more, the rest is enqueued as a TopicPage first, so that a topic of 10,000 subscribers is worked
 * through by several invocations at once rather than one long one. The first page (a Publish
 * message) enriches the event and reads the groups; a page (`after`, from the fan-out's own queue
 * only) does neither. Returns how many deliveries were enqueued.
 */
export async function fanOutToTopic(
  received: PublishMessage,
  deps: TopicFanOutDeps,
  after?: TopicPage['after'],
): Promise<{ enqueued: number; continued: boolean }> {
  const forAnonymous = checkTopicTenancy(received, deps, "the topic's tenant (only a public topic's event may name none)");
  // Enriched once, on the first page; the pages after it carry the enriched event.
  const enrich = after === undefined ? deps.enrichment?.enricherOf(received.topic) : undefined;
  const enriched = enrich === undefined ? undefined : await enrich(received);
  // The enricher may change the event, not who published it.
  const message = enriched === undefined ? received : { ...received, event: restamped(enriched.event, received.event) };
  const { topic, tenant, event } = message;
  // Fails before any work if the frame could never be delivered.
  eventFrame(topic, event);
  // Counted on its first page only: the continuation pages are the same event.
  if (after === undefined) deps.metrics.add('TopicEvents');
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

  const page = await deps.subscriptions.plainSubscribers(topic, tenant, {
    limit: deps.pageSize ?? DEFAULT_PAGE_SIZE,
    ...(after !== undefined && { after }),
  });
  if (page.after !== undefined) {
    const rest: TopicPage = { topic, ...(tenant !== undefined && { tenant }), event, after: page.after };
    await deps.sqs.send(new SendMessageCommand({ QueueUrl: deps.topicPagesQueueUrl, MessageBody: JSON.stringify(rest) }));
  }
  const recipients = page.subscribers.filter((subscriber) => eventTypeMatches(subscriber.events, event.type)).map((s) => s.connectionId);
  if (after === undefined) {
    // CloudEvents are unique by source and id: the same event picks the same member on every retry.
    const eventKey = `${event.source}\0${event.id}`;
    for (const members of (await deps.subscriptions.groups(topic, tenant)).values()) {
      const chosen = chooseMember(members.filter((member) => eventTypeMatches(member.events, event.type)), eventKey);
      if (chosen !== undefined) recipients.push(chosen.connectionId);
    }
  }
  const bodies = recipients.map((connectionId) => JSON.stringify({ connectionId, topic, event } satisfies EventDelivery));
  await enqueueAll(deps.sqs, deps.notifyConnectionQueueUrl, bodies);
  return { enqueued: bodies.length, continued: page.after !== undefined };
}

function restamped(enriched: CloudEvent, received: CloudEvent): CloudEvent {
  const publisher = received[PUBLISHER_ATTRIBUTE];
  return typeof publisher === 'string' ? stampPublisher(enriched, publisher) : enriched;
}
