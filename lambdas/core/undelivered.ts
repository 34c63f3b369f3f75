import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { type AckTable, acks } from './acks';
import type { FifoIds } from './batching-sender';
import { USER_STREAM } from './frames';
import { InvalidMessageError } from './messages';
import { STREAM_KEY, STREAM_SEQ, type StreamEntry, userStreamKey } from './streams';

/**
 * The offline fallback (`ackTimeout`). Every user notification appended to its stream also sends a
 * check message to the AckCheck queue, which holds it for `ackTimeout` (the queue's delivery
 * delay). When it comes out, the user's acked position is read: a notification none of the user's
 * connections acked is sent to the Undelivered queue, for the backend to e-mail or push it.
 *
 * Once per notification, though a check may arrive twice (SQS delivers at least once, and a
 * retried NotifyUser record sends its check again): the check claims the entry (a conditional
 * update: not sent, not claimed within `CLAIM_LEASE_MS`), sends, then marks the entry sent. A
 * check that finds the entry sent does nothing; one that finds a live claim fails and is retried
 * after the queue's visibility timeout, when the claim has either turned into `sent` or lapsed (its
 * holder died): then it sends. So a message is never lost. A holder that died between its send and
 * its mark leaves the retry to send again: the Undelivered queue is FIFO, and the notification's
 * deduplication id makes SQS drop that second send (within its 5-minute window, which the
 * 3-minute visibility timeout keeps the retry inside). Messages of one user keep their order.
 */

/** Body of an AckCheck message (the notification is read from its entry, only if it goes out). */
export const AckCheckMessage = z.object({
  userId: z.string().check(z.minLength(1), z.maxLength(256)),
  tenant: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  seq: z.number().check(z.int(), z.positive()),
  epoch: z.string().check(z.minLength(1), z.maxLength(64)),
});
export type AckCheckMessage = z.infer<typeof AckCheckMessage>;

/** Body of an Undelivered message: whose notification, where in their stream, and the notification. */
export interface UndeliveredMessage {
  userId: string;
  tenant?: string;
  stream: typeof USER_STREAM;
  seq: number;
  epoch: string;
  notification: { id: string; time: string; data: unknown };
}

/**
 * How long a claim holds: longer than the consumer's 30 s timeout, shorter than the AckCheck
 * queue's visibility timeout (180 s), so a retry finds it lapsed if its holder died.
 */
export const CLAIM_LEASE_MS = 60_000;

/** Another consumer holds the entry's claim: this check is retried once the claim is sent or lapsed. */
export class ClaimHeldError extends Error {
  override readonly name = 'ClaimHeldError';
}

export interface AckCheckDeps {
  db: DynamoDBDocumentClient;
  streamsTableName: string;
  acks: AckTable;
  undelivered: { send(body: string, fifo: FifoIds): Promise<void> };
  now?: () => number;
}

export type AckCheckOutcome = 'acked' | 'undelivered' | 'already_sent';

export async function checkAck(check: AckCheckMessage, deps: AckCheckDeps): Promise<AckCheckOutcome> {
  const stream = userStreamKey(check.userId, check.tenant);
  if (acks(await deps.acks.position(stream), check)) return 'acked';
  const entry = await claim(stream, check, deps);
  if (entry === 'sent') return 'already_sent';
  const message: UndeliveredMessage = {
    userId: check.userId,
    ...(check.tenant !== undefined && { tenant: check.tenant }),
    stream: USER_STREAM,
    seq: check.seq,
    epoch: check.epoch,
    notification: JSON.parse(entry.content) as UndeliveredMessage['notification'],
  };
  await deps.undelivered.send(JSON.stringify(message), undeliveredIds(stream, check));
  await mark(stream, check.seq, deps);
  return 'undelivered';
}

/**
 * The Undelivered message's FIFO ids: grouped by user stream (a user's notifications in order),
 * deduplicated per notification. Hashed, since SQS takes at most 128 characters for either.
 */
export function undeliveredIds(stream: string, { seq, epoch }: Pick<AckCheckMessage, 'seq' | 'epoch'>): FifoIds {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  return { groupId: sha256(stream), deduplicationId: sha256(`${stream}\n${epoch}\n${seq}`) };
}

async function claim(stream: string, check: AckCheckMessage, deps: AckCheckDeps): Promise<StreamEntry | 'sent'> {
  const now = (deps.now ?? Date.now)();
  try {
    const { Attributes } = await deps.db.send(
      new UpdateCommand({
        TableName: deps.streamsTableName,
        Key: { [STREAM_KEY]: stream, [STREAM_SEQ]: check.seq },
        UpdateExpression: 'SET undeliveredClaimedAt = :now',
        // attribute_exists: never create an item for an entry that is gone.
        ConditionExpression:
          'attribute_exists(#seq) AND epoch = :epoch AND attribute_not_exists(undeliveredAt) AND (attribute_not_exists(undeliveredClaimedAt) OR undeliveredClaimedAt < :lapsed)',
        ExpressionAttributeNames: { '#seq': STREAM_SEQ },
        ExpressionAttributeValues: { ':now': now, ':epoch': check.epoch, ':lapsed': now - CLAIM_LEASE_MS },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return Attributes as StreamEntry;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const old = error.Item;
    if (old === undefined || old['epoch']?.S !== check.epoch) {
      throw new InvalidMessageError('entry_gone', `entry ${check.seq} of epoch ${check.epoch} is no longer in its stream: its notification cannot be sent to Undelivered`);
    }
    if (old['undeliveredAt'] !== undefined) return 'sent';
    throw new ClaimHeldError(`entry ${check.seq} is being sent to Undelivered by another check; retried later`);
  }
}

async function mark(stream: string, seq: number, deps: AckCheckDeps): Promise<void> {
  await deps.db.send(
    new UpdateCommand({
      TableName: deps.streamsTableName,
      Key: { [STREAM_KEY]: stream, [STREAM_SEQ]: seq },
      UpdateExpression: 'SET undeliveredAt = :now',
      ConditionExpression: 'attribute_exists(#seq)',
      ExpressionAttributeNames: { '#seq': STREAM_SEQ },
      ExpressionAttributeValues: { ':now': (deps.now ?? Date.now)() },
    }),
  );
}
