import { type CancellationReason, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** Attempts at a transaction that conflicts with another on the same items (a burst of frames or connections). */
const MAX_ATTEMPTS = 10;

/**
 * Writes the items in one transaction, again while it conflicts with another on the same items;
 * the cancellation reasons if a condition failed (one per item, in order), undefined if it was
 * written.
 */
export async function transactWrite(db: DynamoDBDocumentClient, items: TransactItems): Promise<CancellationReason[] | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
      return undefined;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return reasons;
      if (!reasons.some((reason) => reason.Code === 'TransactionConflict') || attempt >= MAX_ATTEMPTS) throw error;
      // Full jitter, so that the conflicting writers do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 10 * 2 ** attempt)));
    }
  }
}
