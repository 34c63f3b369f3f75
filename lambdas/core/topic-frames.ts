import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import type { PublishedFrame, SubscribedFrame, UnsubscribedFrame } from '../../client/src/protocol';
import { MAX_CONNECTION_SECONDS } from './connections';
import { errorFrame, idOf, parseJson, tooDeepFrame } from './frames';
import type { TopicCaller } from './identity';
import { JsonValue, nestsTooDeep } from './json';
import { readableError } from './messages';
import { replaySubscription, type StreamReadDeps, StreamPositionFrame } from './stream-frames';
import { ConnectionGoneError, type SubscriptionTable, TooManySubscriptionsError } from './subscriptions';
import { EventTypeFilter, GroupName, mayAccess, mayJoin, MAX_PATTERNS, RESERVED_SOURCE_PREFIX, stampPublisher, type TopicPage, TopicName } from './topics';

const SubscribeFrame = z.object({
  action: z.literal('subscribe'),
  topic: TopicName,
  events: z.optional(z.array(EventTypeFilter).check(z.minLength(1), z.maxLength(MAX_PATTERNS))),
  group: z.optional(GroupName),
  // Start from a position of the topic's stream, or this many entries back: replayed after the reply.
  since: z.optional(StreamPositionFrame),
  rewind: z.optional(z.number().check(z.int(), z.positive(), z.lte(10_000))),
});

const UnsubscribeFrame = z.object({ action: z.literal('unsubscribe'), topic: TopicName });

/** What a client may say about its event; the server sets `specversion`, `source`, and the rest it leaves out. */
const ClientEvent = z.strictObject({
  type: z.string().check(z.minLength(1), z.maxLength(256)),
  id: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  subject: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
  datacontenttype: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  data: z.optional(JsonValue),
});
const PublishFrame = z.object({ action: z.literal('publish'), topic: TopicName, event: ClientEvent });

export interface SubscribeDeps {
  subscriptions: SubscriptionTable;
  /** The construct's `maxSubscriptionsPerConnection`. */
  maxSubscriptionsPerConnection: number;
  /** The topic streams, for `since` and `rewind`; absent on a stack without history. */
  streamReads?: StreamReadDeps;
}

/**
 * `subscribe`: stores the subscription if the connection may read the topic (and join the group,
 * if it names one) and holds fewer than
 * its limit of other subscriptions (re-subscribing to a topic replaces its subscription). Returns
 * the reply frame. With `since` or `rewind`, the `subscribed` reply is posted first, then the
 * topic's entries from there (`replay: true`, filtered as the subscription is), and the reply is
 * the `resumed` frame (see `resume`). The subscription is stored before the replay is read, so an
 * event is either replayed or delivered live, or both (the same seq, which clients drop).
 */
export async function subscribe(body: string | undefined, caller: TopicCaller, deps: SubscribeDeps): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const request = SubscribeFrame.safeParse(frame);
  if (!request.success) return errorFrame('invalid_subscription', readableError(request.error), frame);
  const { topic, events, group, since, rewind } = request.data;
  if (since !== undefined && rewind !== undefined) return errorFrame('invalid_subscription', 'start from "since" or "rewind", not both', frame);
  const start = since !== undefined ? { since } : rewind !== undefined ? { rewind } : undefined;
  if (start !== undefined && deps.streamReads === undefined) return errorFrame('invalid_subscription', 'this stack keeps no history (history: false): subscribe without "since" or "rewind"', frame);
  if (!mayAccess(caller.grants.subscribe, topic)) return errorFrame('forbidden_topic', `this connection may not subscribe to "${topic}"`, frame);
  // A group member takes events from the others: joining one is a grant of its own.
  if (group !== undefined && !mayJoin(caller.grants.groups, topic, group)) {
    return errorFrame('forbidden_group', `this connection may not join the group "${group}" of "${topic}"`, frame);
  }
  const limit = deps.maxSubscriptionsPerConnection;
  try {
    await deps.subscriptions.subscribe(
      {
        connectionId: caller.connectionId,
        topic,
        ...(caller.tenant !== undefined && { tenant: caller.tenant }),
        ...(events !== undefined && { events }),
        ...(group !== undefined && { group }),
        expiresAt: Math.ceil(caller.connectedAt / 1000) + MAX_CONNECTION_SECONDS,
      },
      limit,
    );
  } catch (error) {
    if (error instanceof TooManySubscriptionsError) {
      return errorFrame('too_many_subscriptions', `a connection may hold ${limit} subscriptions: unsubscribe from one first`, frame);
    }
    // Nobody reads the reply of a connection that closed; it is answered all the same.
    if (error instanceof ConnectionGoneError) return errorFrame('connection_closed', 'this connection is closing', frame);
    throw error;
  }
  const subscribed = JSON.stringify({ type: 'subscribed', topic, events: events ?? null, group: group ?? null, ...idOf(frame) } satisfies SubscribedFrame);
  if (start === undefined || deps.streamReads === undefined) return subscribed;
  return replaySubscription(subscribed, topic, caller, start, events, deps.streamReads, idOf(frame));
}

/** `unsubscribe`: answered `unsubscribed` whether or not there was a subscription. */
export async function unsubscribe(body: string | undefined, caller: TopicCaller, deps: { subscriptions: SubscriptionTable }): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const request = UnsubscribeFrame.safeParse(frame);
  if (!request.success) return errorFrame('invalid_subscription', readableError(request.error), frame);
  await deps.subscriptions.unsubscribe(caller.connectionId, request.data.topic, caller.tenant);
  return JSON.stringify({ type: 'unsubscribed', topic: request.data.topic, ...idOf(frame) } satisfies UnsubscribedFrame);
}

export interface ClientPublishDeps {
  sqs: SQSClient;
  /** The topic fan-out's own queue: only there does the publisher the server stamps count. */
  topicPagesQueueUrl: string;
  now?: () => Date;
}

/**
 * `publish`: a client's event, to a topic its credential may publish to. The server makes it a
 * CloudEvent whose `source` and publisher name the publishing user, so no client can pass for
 * another, and hands it to the fan-out's own queue, where no other sender can stamp a publisher.
 */
export async function publishFromClient(body: string | undefined, caller: TopicCaller, deps: ClientPublishDeps): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const request = PublishFrame.safeParse(frame);
  if (!request.success) return errorFrame('invalid_event', readableError(request.error), frame);
  const { topic, event } = request.data;
  if (!mayAccess(caller.grants.publish, topic)) return errorFrame('forbidden_topic', `this connection may not publish to "${topic}"`, frame);
  const message: TopicPage = {
    topic,
    ...(caller.tenant !== undefined && { tenant: caller.tenant }),
    event: stampPublisher(
      {
        specversion: '1.0',
        id: event.id ?? randomUUID(),
        source: `${RESERVED_SOURCE_PREFIX}user:${caller.userId}`,
        time: (deps.now?.() ?? new Date()).toISOString(),
        ...event,
      },
      `user:${caller.userId}`,
    ),
  };
  await deps.sqs.send(new SendMessageCommand({ QueueUrl: deps.topicPagesQueueUrl, MessageBody: JSON.stringify(message) }));
  return JSON.stringify({ type: 'published', topic, eventId: message.event.id, ...idOf(frame) } satisfies PublishedFrame);
}
