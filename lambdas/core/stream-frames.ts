import * as z from 'zod/mini';
import { isAnonymousUserId } from './auth';
import { errorFrame, eventFrame, type FramePosition, idOf, MAX_MESSAGE_BYTES, notificationFrame, parseJson, tooDeepFrame, topicStream, USER_STREAM } from './frames';
import type { TopicCaller } from './identity';
import { nestsTooDeep } from './json';
import { readableError } from './messages';
import { type ReplayPlan, ReplayScan, replayRange } from './replay';
import { billedMessages, FrameReplayBudget, type ReplayBucketStore, type ReplayBudgetSettings } from './replay-budget';
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
  /** What one connection's replays may post, per client frame and per minute, and where its bucket is kept. */
  replayBudget: { settings: ReplayBudgetSettings; buckets: ReplayBucketStore };
  subscriptions: SubscriptionTable;
  /** Sends a frame to the calling connection ahead of the reply (PostToConnection); throws if it is gone. */
  post(frame: string): Promise<void>;
}

/** A replay keeps the frames it read while looking for its start, to post them without reading again, up to this many bytes. */
const HELD_REPLAY_BYTES = 1024 * 1024;

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
 * reply, every frame before it is posted. What the replays post is bounded by the frame's and the
 * connection's budget (lambdas/core/replay-budget.ts), shared by the streams in the order named: a
 * stream the budget cannot carry whole is answered `replay_limit` with the newest entries it could
 * carry (none, once it is spent), and the client pages on with `history`. The `resumed` frames
 * posted ahead of the reply are paid from the same budget first: a frame it cannot pay them for is
 * refused `rate_limited`, posting nothing. A topic stream needs a
 * subscription to the topic and the grant to read it; an anonymous connection has no user stream.
 * Anything refused refuses the whole frame, before anything is replayed.
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
  const budget = frameBudgetOf(caller, deps);
  // Every stream but the last is answered by a posted `resumed`: those are paid for first, or the frame is refused.
  if (readable.length > 1 && !(await budget.takeAll(readable.length - 1))) {
    return errorFrame('rate_limited', `this connection's replay budget cannot carry the answers for ${readable.length} streams now: resume fewer at once, or later`, frame);
  }
  // Stream by stream, so that only one stream's replay is under way at a time; the last stream's `resumed` is the reply.
  const last = readable.pop()!;
  for (const [stream, position] of readable) await deps.post(await replay(stream, position, deps, budget, idOf(frame)));
  return replay(last[0], last[1], deps, budget, idOf(frame));
}

/**
 * A subscription's start from a position (`since`) or `rewind` entries back: the `subscribed`
 * reply is posted, then the replay (within the frame's and the connection's budget, as `resume`),
 * and the `resumed` frame is the reply.
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
  await deps.post(subscribed);
  return replay(stream, position, deps, frameBudgetOf(caller, deps), frameId);
}

function frameBudgetOf(caller: TopicCaller, deps: Pick<StreamReadDeps, 'replayBudget'>): FrameReplayBudget {
  const { buckets, settings } = deps.replayBudget;
  return new FrameReplayBudget(buckets, caller.connectionId, settings, isAnonymousUserId(caller.userId));
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
  const envelope = { type: 'history', stream: name, epoch: newest?.epoch ?? null, ...idOf(frame) };
  if (newest === undefined) return JSON.stringify({ ...envelope, items: [] });
  // In paging order (forwards: oldest first; backwards: newest first), up to `limit` and 128 KB, read
  // a page at a time and no further than the reply holds: one entry past it says there is a next page.
  const forwards = after !== undefined;
  const floor = Math.max(newest.epochStart, newest.seq - deps.streams.settings.maxEntries + 1);
  const range = forwards ? { from: Math.max(after + 1, floor), to: newest.seq } : { from: floor, to: Math.min((before ?? newest.seq + 1) - 1, newest.seq) };
  let bytes = Buffer.byteLength(JSON.stringify({ ...envelope, items: [], next: Number.MAX_SAFE_INTEGER }));
  const items: { seq: number }[] = [];
  let next: number | undefined;
  for await (const entry of deps.streams.entries(stream.key, { ...range, newestFirst: !forwards, pageLimit: limit + 1 })) {
    // Entries that are no longer retained are the oldest ones: skipped going forwards, the end going backwards.
    if (!deps.streams.isRetained(entry, newest)) {
      if (forwards) continue;
      break;
    }
    const item = { seq: entry.seq, ...(JSON.parse(entry.content) as object) };
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (items.length === limit || bytes + size > MAX_MESSAGE_BYTES) {
      next = items[items.length - 1]?.seq;
      break;
    }
    bytes += size;
    items.push(item);
  }
  if (!forwards) items.reverse();
  return JSON.stringify({ ...envelope, items, ...(next !== undefined && { next }) });
}

/**
 * Replays one stream after `position` within `budget`, and returns its `resumed` frame. The
 * entries from the position's own on are read newest first (the first is the stream's newest: one
 * Query where the replay fits a page) to find where the replay starts: the newest run that is
 * retained and fits `replayLimit` and the budget. The budget is taken, then they are posted oldest
 * first: from what that read kept where it was small, else read again a page at a time. Never more
 * than a page of entries, and at most HELD_REPLAY_BYTES of frames, is held.
 */
async function replay(stream: ReadableStream, position: StreamPositionFrame, deps: StreamReadDeps, budget: FrameReplayBudget, frameId: { id?: string | number }): Promise<string> {
  const limits = { nowSeconds: Date.now() / 1000, maxEntries: deps.streams.settings.maxEntries, replayLimit: deps.replayLimit };
  // From the position's own entry (to see its epoch is the stream's), or seq 1; a page is DynamoDB's 1 MB at most.
  const newestFirst = deps.streams.entries(stream.key, { from: Math.max(position.seq, 1), newestFirst: true, pageLimit: deps.replayLimit + 1 });
  try {
    let read = await newestFirst.next();
    const range = replayRange(position, read.done ? undefined : read.value, limits);
    if (!('newest' in range)) return resumedFrame(stream.name, range, frameId);
    const scan = new ReplayScan(range, limits, await budget.available());
    let held: string[] | undefined = [];
    let heldBytes = 0;
    while (!read.done) {
      const frames = replayFrames(stream, read.value);
      if (!scan.offer(read.value, frames.reduce((sum, sent) => sum + billedMessages(sent), 0))) break;
      if (held !== undefined) {
        held.push(...frames);
        heldBytes += frames.reduce((sum, sent) => sum + Buffer.byteLength(sent), 0);
        if (heldBytes > HELD_REPLAY_BYTES) held = undefined;
      }
      if (scan.done) break;
      read = await newestFirst.next();
    }
    scan.end();
    const granted = await budget.take(scan.messages);
    if (granted < scan.messages) {
      scan.shrinkTo(granted);
      held = undefined;
    }
    const plan = scan.plan();
    if (plan.from !== undefined) {
      if (held !== undefined) {
        for (const sent of held.reverse()) await deps.post(sent);
      } else {
        const to = range.newest.seq;
        for await (const entry of deps.streams.entries(stream.key, { from: plan.from, to, newestFirst: false, pageLimit: to - plan.from + 1 })) {
          for (const sent of replayFrames(stream, entry)) await deps.post(sent);
        }
      }
    }
    return resumedFrame(stream.name, plan, frameId);
  } finally {
    // Stops reading where the scan stopped.
    await newestFirst.return(undefined);
  }
}

/** The frame that replays `entry` (none for an event the subscription's filters do not pass). */
function replayFrames(stream: ReadableStream, entry: StreamEntry): string[] {
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
