import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createManagementApiClient } from './clients';
import { readConfig, readOptionalConfig } from './config';
import type { StreamReadDeps } from '../core/stream-frames';
import { AckTable } from '../core/acks';
import { StreamTable } from '../core/streams';
import type { SubscriptionTable } from '../core/subscriptions';

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

/**
 * What `resume`, `history` and `subscribe` from a position read with, for one calling connection:
 * undefined on a stack without history. Frames ahead of the reply are posted to the connection.
 */
export function streamReadsFromEnvironment(db: DynamoDBDocumentClient, subscriptions: SubscriptionTable): ((connectionId: string) => StreamReadDeps) | undefined {
  const streams = streamTableFromEnvironment(db);
  if (streams === undefined) return undefined;
  const config = readConfig('REPLAY_LIMIT', 'MANAGEMENT_API_ENDPOINT');
  const managementApi = createManagementApiClient(config.MANAGEMENT_API_ENDPOINT);
  const replayLimit = Number(config.REPLAY_LIMIT);
  return (connectionId) => ({
    streams,
    replayLimit,
    subscriptions,
    post: async (frame) => {
      await managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
    },
  });
}

/** The users' acked positions (a stack with history has them); an ack is kept as long as the history. */
export function ackTableFromEnvironment(db: DynamoDBDocumentClient): AckTable | undefined {
  const { ACKS_TABLE_NAME } = readOptionalConfig('ACKS_TABLE_NAME');
  if (ACKS_TABLE_NAME === undefined) return undefined;
  return new AckTable(db, ACKS_TABLE_NAME, Number(readConfig('HISTORY_TTL_SECONDS').HISTORY_TTL_SECONDS));
}
