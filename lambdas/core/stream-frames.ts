import * as z from 'zod/mini';
import { isAnonymousUserId } from './auth';
import { errorFrame, eventFrame, type FramePosition, idOf, MAX_MESSAGE_BYTES, notificationFrame, parseJson, tooDeepFrame, topicStream, USER_STREAM } from './frames';
import type { TopicCaller } from './identity';
import { nestsTooDeep } from './json';
import { readableError } from './messages';
import { planReplay, type ReplayPlan, replayQueryFrom } from './replay';
import { type StreamEntry, type StreamTable, topicStreamKey, userStreamKey } from './streams';
import type { SubscriptionTable } from './subscriptions';
import { type CloudEvent, eventTypeMatches, mayAccess, TopicName } from './topics';

/** A position in a stream, as a client names it: `seq: 0` (epoch optional) is "from the start". */
export const StreamPositionFrame = z
  .object({
    seq: z.number().check(z.int(), z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER)),
    epoch: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
  })
  .check(z.refine((position) => position.seq === 0 || position.epoch !== undefined, { message: 'a position after seq 0 names its epoch' }));
export type StreamPositionFrame = z.infer<typeof StreamPositionFrame>;

/** `user`, or `topic:<name>`. */
const StreamName = z.string().check(z.refine((name) => name === USER_STREAM || (name.startsWith('topic:') && TopicName.safeParse(name.slice(6)).success), {
  message: 'a stream is "user" or "topic:<topic>"',
}));

/** The user stream and up to one per subscription. */
const MAX_STREAMS_PER_RESUME = 1 + 100;

const ResumeFrame = z.object({
  action: z.literal('resume'),
  streams: z.record(StreamName, StreamPositionFrame).check(z.refine((streams) => Object.keys(streams).length >= 1 && Object.keys(streams).length <= MAX_STREAMS_PER_RESUME, {
    message: `name 1 to ${MAX_STREAMS_PER_RESUME} streams`,
  })),
});

const HistoryFrame = z.object({
  action: z.literal('history'),
  stream: StreamName,
  after: z.optional(z.number().check(z.int(), z.nonnegative())),
  before: z.optional(z.number().check(z.int(), z.positive())),
  limit: z.optional(z.number().check(z.int(), z.positive(), z.lte(1000))),
});

export interface StreamReadDeps {
  streams: StreamTable;
  /** `replayLimit`: entries one resume replays per stream at most. */
  replayLimit: number;
  subscriptions: SubscriptionTable;
  /** Sends a frame to the calling connection ahead of the reply (PostToConnection); throws if it is gone. */
  post(frame: string): Promise<void>;
}

/** A stream as the caller may read it: its table key, and which of its entries the caller gets. */
interface ReadableStream {
  name: string;
  key: string;
  /** A topic subscription's event filters: a replay sends only the events it would have been sent live. */
  events?: readonly string[];
}

/**
 * `resume`: for each stream named, replays the entries after the client's position (oldest first,
 * each its own frame with `replay: true`), then answers `resumed` for it; the last `resumed` is the
 * reply, every frame before it is posted. Each stream costs one Query (more only where its entries
 * exceed DynamoDB's 1 MB page). A topic stream needs a subscription to the topic and the grant to
 * read it; an anonymous connection has no user stream. Anything refused refuses the whole frame,
 * before anything is replayed.
 */
export async function resume(body: string | undefined, caller: TopicCaller, deps: StreamReadDeps): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const request = ResumeFrame.safeParse(frame);
  if (!request.success) return errorFrame('invalid_resume', readableError(request.error), frame);
  const wanted = Object.entries(request.data.streams);
  const readable: [ReadableStream, StreamPositionFrame][] = [];
  for (const [name, position] of wanted) {
    const stream = await readableStream(name, caller, deps, { needsSubscription: true });
    if (typeof stream === 'string') return errorFrame(stream, refusal(stream, name), frame);
    readable.push([stream, position]);
  }
  // Stream by stream, so that only one stream's replay is held at a time; the last stream's `resumed` is the reply.
  const last = readable.pop()!;
  for (const [stream, position] of readable) {
    for (const sent of await replayed(stream, position, deps, idOf(frame))) await deps.post(sent);
  }
  return postAllButLast(await replayed(last[0], last[1], deps, idOf(frame)), deps);
}

/**
 * A subscription's start from a position (`since`) or `rewind` entries back: the `subscribed`
 * reply is posted, then the replay, and the `resumed` frame is the reply.
 */
export async function replaySubscription(
  subscribed: string,
  topic: string,
  caller: TopicCaller,
  start: { since: StreamPositionFrame } | { rewind: number },
  events: readonly string[] | undefined,
  deps: StreamReadDeps,
  frameId: { id?: string | number },
): Promise<string> {
  const stream: ReadableStream = { name: topicStream(topic), key: topicStreamKey(topic, caller.tenant), ...(events !== undefined && { events }) };
  let position: StreamPositionFrame;
  if ('since' in start) position = start.since;
  else {
    // From `rewind` entries before the newest: one read of the newest first.
    const newest = await deps.streams.newest(stream.key);
    position = newest === undefined ? { seq: 0 } : { seq: Math.max(newest.seq - start.rewind, newest.epochStart - 1), epoch: newest.epoch };
    if (position.seq === 0) position = { seq: 0 };
  }
  return postAllButLast([subscribed, ...(await replayed(stream, position, deps, frameId))], deps);
}

/**
 * `history`: a page of a stream's retained entries, oldest first, in one reply of at most 128 KB:
 * `after` N pages forwards from N, `before` N (or neither: from the newest) backwards. `next` is
 * where the following page starts (the `after` or `before` to send), absent at the end.
 */
export async function history(body: string | undefined, caller: TopicCaller, deps: Pick<StreamReadDeps, 'streams' | 'subscriptions'>): Promise<string> {
  const frame = parseJson(body);
  if (nestsTooDeep(frame)) return tooDeepFrame(frame);
  const request = HistoryFrame.safeParse(frame);
  if (!request.success) return errorFrame('invalid_history', readableError(request.error), frame);
  const { stream: name, after, before, limit = 100 } = request.data;
  if (after !== undefined && before !== undefined) return errorFrame('invalid_history', 'page with "after" or with "before", not both', frame);
  const stream = await readableStream(name, caller, deps, { needsSubscription: false });
  if (typeof stream === 'string') return errorFrame(stream, refusal(stream, name), frame);

  const newest = await deps.streams.newest(stream.key);
  const forwards = after !== undefined;
  const read =
    newest === undefined
      ? []
      : forwards
        ? await deps.streams.oldestAfter(stream.key, after, limit + 1)
        : await deps.streams.newestBefore(stream.key, before ?? newest.seq + 1, limit + 1);
  // In paging order (forwards: oldest first; backwards: newest first), up to `limit` and 128 KB.
  const retained = newest === undefined ? [] : read.filter((entry) => deps.streams.isRetained(entry, newest));
  const envelope = { type: 'history', stream: name, epoch: newest?.epoch ?? null, ...idOf(frame) };
  let bytes = Buffer.byteLength(JSON.stringify({ ...envelope, items: [], next: Number.MAX_SAFE_INTEGER }));
  const items: { seq: number }[] = [];
  for (const entry of retained.slice(0, limit)) {
    const item = { seq: entry.seq, ...(JSON.parse(entry.content) as object) };
    bytes += Buffer.byteLength(JSON.stringify(item)) + 1;
    if (bytes > MAX_MESSAGE_BYTES) break;
    items.push(item);
  }
  const next = items.length < retained.length ? items[items.length - 1]?.seq : undefined;
  if (!forwards) items.reverse();
  return JSON.stringify({ ...envelope, items, ...(next !== undefined && { next }) });
}

/** The replayed frames of one stream after `position`, then its `resumed` frame. */
async function replayed(stream: ReadableStream, position: StreamPositionFrame, deps: StreamReadDeps, frameId: { id?: string | number }): Promise<string[]> {
  const { settings } = deps.streams;
  const entries = await deps.streams.newestFrom(stream.key, replayQueryFrom(position.seq), deps.replayLimit + 2);
  const plan = planReplay(position, entries, { nowSeconds: Date.now() / 1000, maxEntries: settings.maxEntries, replayLimit: deps.replayLimit });
  return [...plan.entries.flatMap((entry) => replayFrame(stream, entry)), resumedFrame(stream.name, plan, frameId)];
}

function replayFrame(stream: ReadableStream, entry: StreamEntry): string[] {
  const position: FramePosition = { stream: stream.name, seq: entry.seq, epoch: entry.epoch };
  if (stream.name === USER_STREAM) return [notificationFrame(JSON.parse(entry.content) as Parameters<typeof notificationFrame>[0], position, true)];
  const { topic, event } = JSON.parse(entry.content) as { topic: string; event: CloudEvent };
  // A filtered subscription is replayed what it would have been sent live.
  if (stream.events !== undefined && !eventTypeMatches(stream.events, event.type)) return [];
  return [eventFrame(topic, event, position, true)];
}

/** `{"type":"resumed","stream","recovered","reason"?,"from"?,"to"?}`, with the request's id. */
export function resumedFrame(stream: string, plan: ReplayPlan, frameId: { id?: string | number }): string {
  const { recovered, from, to } = plan;
  return JSON.stringify({ type: 'resumed', stream, recovered, ...(!plan.recovered && { reason: plan.reason }), ...(from !== undefined && { from, to }), ...frameId });
}

type Refusal = 'forbidden_topic' | 'not_subscribed' | 'invalid_stream';

async function readableStream(name: string, caller: TopicCaller, deps: Pick<StreamReadDeps, 'subscriptions'>, { needsSubscription }: { needsSubscription: boolean }): Promise<ReadableStream | Refusal> {
  if (name === USER_STREAM) {
    if (isAnonymousUserId(caller.userId)) return 'invalid_stream';
    return { name, key: userStreamKey(caller.userId, caller.tenant) };
  }
  const topic = name.slice('topic:'.length);
  if (!mayAccess(caller.grants.subscribe, topic)) return 'forbidden_topic';
  if (!needsSubscription) return { name, key: topicStreamKey(topic, caller.tenant) };
  const subscription = await deps.subscriptions.subscriptionTo(caller.connectionId, topic, caller.tenant);
  if (subscription === undefined) return 'not_subscribed';
  return { name, key: topicStreamKey(topic, caller.tenant), ...(subscription.events !== undefined && { events: subscription.events }) };
}

function refusal(reason: Refusal, name: string): string {
  if (reason === 'invalid_stream') return 'an anonymous connection has no user stream';
  if (reason === 'forbidden_topic') return `this connection may not read "${name}"`;
  return `subscribe to the topic before resuming "${name}"`;
}

/** Posts every frame but the last, in order, and returns the last as the route's reply, so that it arrives after them. */
async function postAllButLast(frames: string[], deps: Pick<StreamReadDeps, 'post'>): Promise<string> {
  for (const frame of frames.slice(0, -1)) await deps.post(frame);
  return frames[frames.length - 1]!;
}
