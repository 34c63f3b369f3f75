import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AckTable } from '../core/acks';
import type { StreamReadDeps } from '../core/stream-frames';
import { StreamTable } from '../core/streams';
import type { SubscriptionTable } from '../core/subscriptions';
import { createManagementApiClient } from './clients';
import { ConfigurationError } from './environment';

interface StreamsEnvironment {
  STREAMS_TABLE_NAME?: string;
  HISTORY_TTL_SECONDS?: number;
  HISTORY_MAX_ENTRIES?: number;
}

/**
 * The stack's streams, if it keeps history (prop `history`, on by default): the table and its
 * retention. Absent `STREAMS_TABLE_NAME` means a stack without history.
 */
export function streamTable(db: DynamoDBDocumentClient, env: Required<StreamsEnvironment>): StreamTable;
export function streamTable(db: DynamoDBDocumentClient, env: StreamsEnvironment): StreamTable | undefined;
export function streamTable(db: DynamoDBDocumentClient, env: StreamsEnvironment): StreamTable | undefined {
  const { STREAMS_TABLE_NAME, HISTORY_TTL_SECONDS, HISTORY_MAX_ENTRIES } = env;
  if (STREAMS_TABLE_NAME === undefined) return undefined;
  if (HISTORY_TTL_SECONDS === undefined || HISTORY_MAX_ENTRIES === undefined) {
    throw new ConfigurationError('missing environment variable(s): STREAMS_TABLE_NAME is set without HISTORY_TTL_SECONDS and HISTORY_MAX_ENTRIES');
  }
  return new StreamTable(db, STREAMS_TABLE_NAME, { ttlSeconds: HISTORY_TTL_SECONDS, maxEntries: HISTORY_MAX_ENTRIES });
}

/**
 * What `resume`, `history` and `subscribe` from a position read with, for one calling connection:
 * undefined on a stack without history. Frames ahead of the reply are posted to the connection.
 */
export function streamReadsOf(
  db: DynamoDBDocumentClient,
  subscriptions: SubscriptionTable,
  env: Required<StreamsEnvironment> & { REPLAY_LIMIT: number; MANAGEMENT_API_ENDPOINT: string },
): (connectionId: string) => StreamReadDeps;
export function streamReadsOf(
  db: DynamoDBDocumentClient,
  subscriptions: SubscriptionTable,
  env: StreamsEnvironment & { REPLAY_LIMIT?: number; MANAGEMENT_API_ENDPOINT?: string },
): ((connectionId: string) => StreamReadDeps) | undefined;
export function streamReadsOf(
  db: DynamoDBDocumentClient,
  subscriptions: SubscriptionTable,
  env: StreamsEnvironment & { REPLAY_LIMIT?: number; MANAGEMENT_API_ENDPOINT?: string },
): ((connectionId: string) => StreamReadDeps) | undefined {
  const streams = streamTable(db, env);
  if (streams === undefined) return undefined;
  const { REPLAY_LIMIT: replayLimit, MANAGEMENT_API_ENDPOINT } = env;
  if (replayLimit === undefined || MANAGEMENT_API_ENDPOINT === undefined) {
    throw new ConfigurationError('missing environment variable(s): reading streams needs REPLAY_LIMIT and MANAGEMENT_API_ENDPOINT');
  }
  const managementApi = createManagementApiClient(MANAGEMENT_API_ENDPOINT);
  return (connectionId) => ({
    streams,
    replayLimit,
    subscriptions,
    post: async (frame) => {
      await managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
    },
  });
}

/** The users' acked positions; an ack is kept as long as the history. */
export function ackTable(db: DynamoDBDocumentClient, env: { ACKS_TABLE_NAME: string; HISTORY_TTL_SECONDS: number }): AckTable {
  return new AckTable(db, env.ACKS_TABLE_NAME, env.HISTORY_TTL_SECONDS);
}
