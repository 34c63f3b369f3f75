import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiKeyTable } from '../core/api-keys';
import { type ConnectionRows, ConnectionTable } from '../core/connections';
import { SubscriptionTable } from '../core/subscriptions';

// The one place in lambdas/ where the tables are built from a function's environment.

/**
 * The connection table of a function that registers or removes connections: always with the
 * counts table, so that every removal takes the connection out of its user's and key's counts.
 */
export function connectionTable(db: DynamoDBDocumentClient, env: { CONNECTIONS_TABLE_NAME: string; CONNECTION_COUNTS_TABLE_NAME: string }): ConnectionTable {
  return new ConnectionTable(db, env.CONNECTIONS_TABLE_NAME, env.CONNECTION_COUNTS_TABLE_NAME);
}

/** The connection table of a function that never registers nor removes a connection: no `register`, no `remove`. */
export function connectionRows(db: DynamoDBDocumentClient, env: { CONNECTIONS_TABLE_NAME: string }): ConnectionRows {
  return new ConnectionTable(db, env.CONNECTIONS_TABLE_NAME);
}

/**
 * The subscriptions; with the connections table where the function has it, whose rows hold each
 * connection's set of topics (subscribing and unsubscribing keep it in step).
 */
export function subscriptionTable(db: DynamoDBDocumentClient, env: { SUBSCRIPTIONS_TABLE_NAME: string; CONNECTIONS_TABLE_NAME?: string }): SubscriptionTable {
  return new SubscriptionTable(db, env.SUBSCRIPTIONS_TABLE_NAME, env.CONNECTIONS_TABLE_NAME);
}

export function apiKeyTable(db: DynamoDBDocumentClient, env: { API_KEYS_TABLE_NAME: string }): ApiKeyTable {
  return new ApiKeyTable(db, env.API_KEYS_TABLE_NAME);
}
