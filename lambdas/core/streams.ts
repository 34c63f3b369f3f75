import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

/**
 * Durable streams: every notification to a user, and every event of a topic, is an entry of its
 * stream, one item per entry under the stream's key with the entry's `seq` as sort key. Appending is
 * the entry's one write: the newest entry is read (one consistent Query of one item), and the next
 * is put at its seq + 1 on condition that no item holds that seq yet; an appender that loses the
 * race reads again. So seqs run 1, 2, 3 … with no hole and no repeat however many invocations
 * append at once, and no second item (a counter, a head) is written per notification.
 *
 * The epoch rides on every entry. A stream whose newest entry is gone or expired has lost its
 * history: its next entry starts a new, random epoch (at the seq after the newest item still
 * stored, or 1), and records where that epoch began (`epochStart`). Entries expire at
 * `historyTtl` after their append (never before the entry before them: `expiresAt` only grows
 * along a stream), so whenever an entry is gone or expired, so is every entry before it; and
 * `historyMaxEntries` is applied when reading (only the newest that many are read), so trimming
 * costs no write. TTL deletes expired items within days, not at once: reads skip them.
 */

/** The table's attributes: partition key `stream`, sort key `seq` (a number), TTL `expiresAt`. */
export const STREAM_KEY = 'stream';
export const STREAM_SEQ = 'seq';
export const STREAM_TTL_ATTRIBUTE = 'expiresAt';

export const DEFAULT_HISTORY_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_HISTORY_MAX_ENTRIES = 1000;
/** Entries one `resume` (per stream) or `subscribe` replays at most before it answers `replay_limit`. */
export const DEFAULT_REPLAY_LIMIT = 1000;

/** The user stream of `userId` (in `tenant`): encoded so that no user id or tenant can pass for another. */
export function userStreamKey(userId: string, tenant: string | undefined): string {
  return `user:${encodeURIComponent(tenant ?? '')}:${encodeURIComponent(userId)}`;
}

/** The stream of `topic` (in `tenant`); topic names hold no `%`, `:` is theirs to use. */
export function topicStreamKey(topic: string, tenant: string | undefined): string {
  return `topic:${encodeURIComponent(tenant ?? '')}:${topic}`;
}

/** Where an entry is in its stream, as frames carry it (`epoch` is opaque; clients compare it for equality). */
export interface StreamPosition {
  seq: number;
  epoch: string;
}

/** An entry as stored: its position, and the content of the frame that delivers it (as JSON). */
export interface StreamEntry extends StreamPosition {
  /** The first seq of the entry's epoch. */
  epochStart: number;
  /** Epoch seconds; the entry is gone for readers from then on. */
  expiresAt: number;
  /** Epoch milliseconds of the append. */
  appendedAt: number;
  /** The queue message that appended it: a retry of that message finds it instead of appending again. */
  messageId: string;
  /** The delivered frame's content (`{id,time,data}`, `{topic,event}`), without type or position. */
  content: string;
}

export interface StreamSettings {
  /** How long an entry is kept. */
  ttlSeconds: number;
  /** Entries kept per stream: older ones are not read. */
  maxEntries: number;
}

/** Who asks for an append: the queue message and whether this is a retry of it. */
export interface AppendOrigin {
  messageId: string;
  /** When SQS first accepted the message (epoch ms): the first attempt appended after it. */
  sentAt: number;
  /** SQS received the message before (ApproximateReceiveCount > 1): an earlier attempt may have appended it. */
  retried: boolean;
}

/** Clocks of SQS and Lambda may disagree a little: a retry looks back this much further than the message's sent time. */
const CLOCK_SKEW_MS = 60_000;
/** Appends that lose a race try again, up to this many times, after a short random wait. */
const MAX_APPEND_ATTEMPTS = 50;

export class StreamTable {
  /** The append running per stream: one invocation's appends to a stream take turns instead of racing each other. */
  private readonly appending = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    readonly settings: StreamSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Appends `content` to `stream` and returns its position. A retried message whose earlier
   * attempt appended already gets that entry's position back, so a retry never appends twice.
   * Appends to one stream through this table run one after another, in the order they were asked
   * for (a batch's records are handled at once): only other invocations contend for a seq.
   */
  append(stream: string, content: object, origin: AppendOrigin): Promise<StreamPosition> {
    const turn = (this.appending.get(stream) ?? Promise.resolve()).then(
      () => this.appendNow(stream, content, origin),
      () => this.appendNow(stream, content, origin),
    );
    this.appending.set(stream, turn);
    const done = () => {
      if (this.appending.get(stream) === turn) this.appending.delete(stream);
    };
    turn.then(done, done);
    return turn;
  }

  private async appendNow(stream: string, content: object, origin: AppendOrigin): Promise<StreamPosition> {
    if (origin.retried) {
      const earlier = await this.appendedBy(stream, origin);
      if (earlier) return earlier;
    }
    const body = JSON.stringify(content);
    for (let attempt = 1; ; attempt += 1) {
      const newest = await this.newest(stream);
      const now = this.now();
      const next = nextEntry(newest, now, this.settings.ttlSeconds);
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { [STREAM_KEY]: stream, ...next, appendedAt: now, messageId: origin.messageId, content: body },
            ConditionExpression: 'attribute_not_exists(#seq)',
            ExpressionAttributeNames: { '#seq': STREAM_SEQ },
          }),
        );
        return { seq: next.seq, epoch: next.epoch };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= MAX_APPEND_ATTEMPTS) throw error;
        // Another invocation took the seq: spread the contenders out before reading the newest again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 5 * attempt)));
      }
    }
  }

  /** The newest entry stored (expired or not), read consistently. */
  async newest(stream: string): Promise<StreamEntry | undefined> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({ ...this.keyCondition(stream), ScanIndexForward: false, Limit: 1, ConsistentRead: true }),
    );
    return Items[0] as StreamEntry | undefined;
  }

  /**
   * The entries from `fromSeq` on, newest first, at most `limit` (a Query; more than one only where
   * the entries exceed DynamoDB's 1 MB page).
   */
  async newestFrom(stream: string, fromSeq: number, limit: number): Promise<StreamEntry[]> {
    return this.query({ ...this.keyCondition(stream, { from: fromSeq }), ScanIndexForward: false }, limit);
  }

  /** The entries after `afterSeq`, oldest first, at most `limit`. */
  async oldestAfter(stream: string, afterSeq: number, limit: number): Promise<StreamEntry[]> {
    return this.query({ ...this.keyCondition(stream, { from: afterSeq + 1 }), ScanIndexForward: true }, limit);
  }

  /** The entries before `beforeSeq`, newest first, at most `limit`. */
  async newestBefore(stream: string, beforeSeq: number, limit: number): Promise<StreamEntry[]> {
    return this.query({ ...this.keyCondition(stream, { to: beforeSeq - 1 }), ScanIndexForward: false }, limit);
  }

  /** Whether the entry is still readable: not expired, and among the newest `maxEntries` of a stream whose newest is `newest`. */
  isRetained(entry: StreamEntry, newest: StreamEntry): boolean {
    return entry.expiresAt > this.now() / 1000 && entry.epoch === newest.epoch && entry.seq > newest.seq - this.settings.maxEntries;
  }

  private async query(input: Omit<QueryCommandInput, 'TableName'>, limit: number): Promise<StreamEntry[]> {
    const entries: StreamEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const { Items = [], LastEvaluatedKey } = await this.db.send(
        new QueryCommand({ TableName: this.tableName, ...input, Limit: limit - entries.length, ConsistentRead: true, ...(start && { ExclusiveStartKey: start }) }),
      );
      entries.push(...(Items as StreamEntry[]));
      start = LastEvaluatedKey;
    } while (start !== undefined && entries.length < limit);
    return entries;
  }

  private keyCondition(stream: string, range: { from?: number; to?: number } = {}): Pick<QueryCommandInput, 'TableName' | 'KeyConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
    const seqCondition =
      range.from !== undefined ? ' AND #seq >= :from' : range.to !== undefined ? ' AND #seq <= :to' : '';
    return {
      TableName: this.tableName,
      KeyConditionExpression: `#stream = :stream${seqCondition}`,
      ExpressionAttributeNames: { '#stream': STREAM_KEY, ...(seqCondition && { '#seq': STREAM_SEQ }) },
      ExpressionAttributeValues: {
        ':stream': stream,
        ...(range.from !== undefined && { ':from': range.from }),
        ...(range.to !== undefined && { ':to': range.to }),
      },
    };
  }

  /**
   * The entry an earlier attempt of `origin` appended, if any: read back from the newest to the
   * first appended before the message was sent (a retry only, so the common path never pays it).
   */
  private async appendedBy(stream: string, origin: AppendOrigin): Promise<StreamPosition | undefined> {
    let start: Record<string, unknown> | undefined;
    do {
      const { Items = [], LastEvaluatedKey } = await this.db.send(
        new QueryCommand({
          ...this.keyCondition(stream),
          ScanIndexForward: false,
          ConsistentRead: true,
          ProjectionExpression: '#seq, epoch, messageId, appendedAt',
          ExpressionAttributeNames: { '#stream': STREAM_KEY, '#seq': STREAM_SEQ },
          Limit: 100,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      for (const item of Items as Pick<StreamEntry, 'seq' | 'epoch' | 'messageId' | 'appendedAt'>[]) {
        if (item.messageId === origin.messageId) return { seq: item.seq, epoch: item.epoch };
        if (item.appendedAt < origin.sentAt - CLOCK_SKEW_MS) return undefined;
      }
      start = LastEvaluatedKey;
    } while (start !== undefined);
    return undefined;
  }
}

/**
 * The position and expiry of the entry after `newest` (the newest item stored, expired or not).
 * A stream with no live newest entry has lost its history: a new epoch starts.
 */
export function nextEntry(
  newest: Pick<StreamEntry, 'seq' | 'epoch' | 'epochStart' | 'expiresAt'> | undefined,
  now: number,
  ttlSeconds: number,
): Pick<StreamEntry, 'seq' | 'epoch' | 'epochStart' | 'expiresAt'> {
  const seq = (newest?.seq ?? 0) + 1;
  const expiresAt = Math.max(Math.ceil(now / 1000) + ttlSeconds, newest?.expiresAt ?? 0);
  if (newest === undefined || newest.expiresAt <= now / 1000) return { seq, epoch: newEpoch(), epochStart: seq, expiresAt };
  return { seq, epoch: newest.epoch, epochStart: newest.epochStart, expiresAt };
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}
