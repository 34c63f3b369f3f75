import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readConfig, readOptionalConfig } from './config';
import { AckTable } from './core/acks';
import { StreamTable } from './core/streams';

/**
 * The stack's streams, if it keeps history (prop `history`, on by default): the table and its
 * retention. Absent `STREAMS_TABLE_NAME` means a stack without history.
 */
export function streamTableFromEnvironment(db: DynamoDBDocumentClient): StreamTable | undefined {
  const { STREAMS_TABLE_NAME } = readOptionalConfig('STREAMS_TABLE_NAME');
  if (STREAMS_TABLE_NAME === undefined) return undefined;
  const config = readConfig('HISTORY_TTL_SECONDS', 'HISTORY_MAX_ENTRIES');
  return new StreamTable(db, STREAMS_TABLE_NAME, { ttlSeconds: Number(config.HISTORY_TTL_SECONDS), maxEntries: Number(config.HISTORY_MAX_ENTRIES) });
}

/** The users' acked positions (a stack with history has them); an ack is kept as long as the history. */
export function ackTableFromEnvironment(db: DynamoDBDocumentClient): AckTable | undefined {
  const { ACKS_TABLE_NAME } = readOptionalConfig('ACKS_TABLE_NAME');
  if (ACKS_TABLE_NAME === undefined) return undefined;
  return new AckTable(db, ACKS_TABLE_NAME, Number(readConfig('HISTORY_TTL_SECONDS').HISTORY_TTL_SECONDS));
}
