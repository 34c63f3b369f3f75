import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { isAnonymousUserId } from './auth';
import { errorFrame, idOf, parseJson, tooDeepFrame, USER_STREAM } from './frames';
import { nestsTooDeep } from './json';
import { type StreamTable, userStreamKey } from './streams';

/**
 * Acks: how far a user has read their stream, across all their connections. One item per user
 * stream in the Acks table, under the stream's key:
 * `{stream: "user:<tenant>:<user>", ackedSeq, epoch, ackedAt, expiresAt}`. An ack is cumulative
 * (everything ≤ `ackedSeq` of that epoch) and moves it forward only: the one write of an ack frame
 * is a conditional update that a lower or equal seq of the same epoch does not pass.
 *
 * Only the user stream is acked. A topic stream is shared by every subscriber, and the offline
 * fallback (`ackTimeout`) is about a user's own notifications, so nothing per user is kept for it.
 */

/** The table's partition key: the user stream's key (see `userStreamKey`); TTL `expiresAt`. */
export const ACK_KEY = 'stream';
export const ACK_TTL_ATTRIBUTE = 'expiresAt';

/** A user's acked position in their stream. */
export interface AckedPosition {
  ackedSeq: number;
  /** The epoch the seq belongs to: an ack of an earlier epoch acks nothing of a later one. */
  epoch: string;
  /** Epoch milliseconds of the ack that stored it. */
  ackedAt: number;
}

export class AckTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** How long an ack is kept: the stream's history TTL, after which its entries are gone too. */
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores `seq` of `epoch` as the stream's acked position unless it is already there or beyond.
   * Returns whether it moved. At most one write, and none is made twice for the same position.
   */
  async ack(stream: string, position: { seq: number; epoch: string }): Promise<boolean> {
    const now = this.now();
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [ACK_KEY]: stream },
          UpdateExpression: 'SET ackedSeq = :seq, epoch = :epoch, ackedAt = :now, #expiresAt = :expiresAt',
          // A new epoch starts over: its seqs say nothing about the old one's.
          ConditionExpression: 'attribute_not_exists(ackedSeq) OR epoch <> :epoch OR ackedSeq < :seq',
          ExpressionAttributeNames: { '#expiresAt': ACK_TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':seq': position.seq,
            ':epoch': position.epoch,
            ':now': now,
            ':expiresAt': Math.ceil(now / 1000) + this.ttlSeconds,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The stream's acked position, read consistently; undefined if it was never acked (or its ack expired). */
  async position(stream: string): Promise<AckedPosition | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { [ACK_KEY]: stream }, ConsistentRead: true }));
    if (Item === undefined || (Item[ACK_TTL_ATTRIBUTE] as number) <= this.now() / 1000) return undefined;
    return { ackedSeq: Item['ackedSeq'] as number, epoch: Item['epoch'] as string, ackedAt: Item['ackedAt'] as number };
  }
}

/** Whether `position` acks the entry at `seq` of `epoch`. */
export function acks(position: AckedPosition | undefined, entry: { seq: number; epoch: string }): boolean {
  return position !== undefined && position.epoch === entry.epoch && position.ackedSeq >= entry.seq;
}

const AckFrame = z.object({
  action: z.literal('ack'),
  stream: z.string().check(z.maxLength(300)),
  seq: z.number().check(z.int(), z.positive()),
});

/** Who acks: the user the authorizer named (an anonymous one has no user stream), in their tenant. */
export interface AckCaller {
  userId: string;
  tenant?: string;
}

export interface AckDeps {
  acks: AckTable;
  streams: StreamTable;
}

/**
 * `{"action":"ack","stream":"user","seq":N}`: stores N as the user's acked position in their stream
 * and answers `{"type":"acked","stream":"user","seq":N}`. The epoch stored is the stream's current
 * one, read with its newest entry (a seq beyond the newest is refused: it acks nothing yet sent).
 */
export async function acknowledge(body: string | undefined, caller: AckCaller, deps: AckDeps): Promise<string> {
  const json = parseJson(body);
  if (nestsTooDeep(json)) return tooDeepFrame(json);
  const frame = AckFrame.safeParse(json);
  if (!frame.success) return errorFrame('invalid_ack', 'an ack is {"action":"ack","stream":"user","seq":<a whole number ≥ 1>}', json);
  const { stream, seq } = frame.data;
  if (stream !== USER_STREAM) {
    const why = stream.startsWith('topic:') ? 'topic streams are not acked (they are shared by every subscriber)' : `there is no stream "${stream.slice(0, 64)}"`;
    return errorFrame('invalid_ack', `only the "user" stream is acked: ${why}`, json);
  }
  if (caller.userId === '' || isAnonymousUserId(caller.userId)) return errorFrame('invalid_ack', 'an anonymous connection has no user stream to ack', json);
  const key = userStreamKey(caller.userId, caller.tenant);
  const newest = await deps.streams.newest(key);
  if (newest === undefined || seq > newest.seq) {
    return errorFrame('invalid_ack', `seq ${seq} is beyond the stream's newest entry (${newest?.seq ?? 0})`, json);
  }
  await deps.acks.ack(key, { seq, epoch: newest.epoch });
  return JSON.stringify({ type: 'acked', stream, seq, ...idOf(json) });
}
