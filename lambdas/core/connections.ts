import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { TopicGrants } from './identity';
import { minuteBucket, minuteBucketsBetween } from './minute-buckets';
import { type InitialSubscriptions, SUBSCRIBED_TOPICS, type SubscriptionTable } from './subscriptions';
import { transactWrite } from './transactions';

/** API Gateway closes every WebSocket connection after 2 hours; a row older than that is dead. */
export const MAX_CONNECTION_SECONDS = 2 * 60 * 60;

/** The GSI that finds a user's connections (partition key `userId`). */
export const USER_INDEX = 'byUser';
/** What the fan-out filters on, projected into the GSI so that a Query reads the index alone. */
export const USER_INDEX_ATTRIBUTES = ['expiresAt', 'tenant'];

/** The GSI that finds connections whose credential expires in a given minute (`expiryBucket`). */
export const EXPIRY_INDEX = 'byCredentialExpiry';

/** The sparse GSI that finds the connections an API key opened (`keyId`), to close them when it is revoked. */
export const API_KEY_INDEX = 'byApiKey';

/** The sparse GSI that finds the keepalive connections of a slot (`keepaliveSlot`), for the keepalive sweep. */
export const KEEPALIVE_INDEX = 'byKeepaliveSlot';
/** What the sweep filters on, projected so that its Query reads the index alone. */
export const KEEPALIVE_INDEX_ATTRIBUTES = ['expiresAt'];

export interface Connection {
  connectionId: string;
  userId: string;
  /** The tenant the credential named, in a multi-tenant stack. */
  tenant?: string;
  /** Epoch milliseconds, as API Gateway reports it. */
  connectedAt: number;
  /** Epoch seconds; the table's TTL attribute, for rows whose `$disconnect` never arrived. */
  expiresAt: number;
  /** Epoch seconds: when the credential it connected (or last authenticated) with expires. */
  credentialExpiresAt?: number;
  /** The API key it connected with, if it did. */
  keyId?: string;
  /** Where it gets server keepalives: its slot of the keepalive index (absent: none). */
  keepaliveSlot?: string;
}

/** Open connections one user (in one tenant) and one API key may hold at once. */
export interface ConnectionLimits {
  perUser: number;
  perKey: number;
}

export const DEFAULT_MAX_CONNECTIONS_PER_USER = 25;
export const DEFAULT_MAX_CONNECTIONS_PER_API_KEY = 25;

/** A `$connect` refused because the user or the API key holds its limit of open connections. */
export class ConnectionLimitError extends Error {
  override readonly name = 'ConnectionLimitError';

  constructor(
    readonly kind: 'user' | 'key',
    readonly limit: number,
  ) {
    super(`the ${kind === 'user' ? 'user' : 'API key'} holds its limit of ${limit} open connections`);
  }
}

/** The connection row's set of the counts-table items it is counted in. */
const OWNERS = 'countedIn';

interface Owner {
  kind: 'user' | 'key';
  key: string;
  limit: number;
}

/** A user's item in the counts table: per tenant, encoded so that no user id or tenant can pass for another. */
export function userOwner(userId: string, tenant: string | undefined): string {
  return `user:${encodeURIComponent(tenant ?? '')}:${encodeURIComponent(userId)}`;
}

export function keyOwner(keyId: string): string {
  return `key:${keyId}`;
}

/** A connection's row as it was deleted: what its subscriptions and its user's count are found by. */
export interface RemovedConnection extends Pick<Connection, 'connectionId' | 'userId' | 'tenant' | 'keyId'> {
  /** The topics it was subscribed to (the row's set, which a subscribe writes in the same transaction as its subscription). */
  subscribedTopics: string[];
}

function removedConnection(row: Record<string, unknown>): RemovedConnection {
  const topics = row[SUBSCRIBED_TOPICS] as Set<string> | undefined;
  return {
    connectionId: row['connectionId'] as string,
    userId: row['userId'] as string,
    ...(typeof row['tenant'] === 'string' && { tenant: row['tenant'] }),
    ...(typeof row['keyId'] === 'string' && { keyId: row['keyId'] }),
    subscribedTopics: [...(topics ?? [])],
  };
}

/**
 * Removes a connection that is gone: its row first, then the subscriptions the row's set names and
 * the connection index shows. A subscribe racing it either wrote before the row was deleted (its
 * topic is in the set read with the deletion) or finds the row gone and stores nothing.
 */
export async function removeConnection(connectionId: string, deps: { connections: ConnectionTable; subscriptions: SubscriptionTable }): Promise<void> {
  const removed = await deps.connections.remove(connectionId);
  await deps.subscriptions.removeAllOf(connectionId, removed);
}

/**
 * What a connection's latest credential grants (its `topics`, `publishTopics` and `groups`), stored
 * on its row by a refresh. API Gateway hands every route the `$connect` authorizer's context for the
 * connection's whole life, so a refresh cannot change that: subscribe and publish read the row.
 */
export type StoredGrants = TopicGrants;

/** Why a sweep closes a connection: the frame code the client is sent. */
export type CloseReason = 'credential_expired' | 'credential_revoked';

/** A sweep's hold on a connection it is closing (`claimClose`). */
export interface CloseClaim {
  /** The reason of the first claim, which later attempts keep. */
  reason: CloseReason;
  /** 1 for the first attempt. */
  attempt: number;
  /** Whether an earlier attempt already told the client why (its post succeeded, its DeleteConnection did not). */
  notified: boolean;
  /** Epoch seconds: when the claim lapses if nobody releases it. */
  until: number;
}

export interface ExpiringCredential {
  connectionId: string;
  credentialExpiresAt: number;
}

/** The connection table: one row per open connection, found by id or, through the GSI, by user. */
/**
 * The connection table as a function that never registers nor removes a connection holds it: it
 * reads rows, finds a user's connections, stores a refresh. Without `register` and `remove`, which
 * a table built without the counts table would do only half of (lambdas/wiring/tables.ts builds
 * the whole table, always with the counts table, for the functions that remove connections).
 */
export type ConnectionRows = Omit<ConnectionTable, 'register' | 'remove'>;

export class ConnectionTable {
  /**
   * @param countsTableName the table of each user's and API key's open connections (sets of ids):
   * with it, `register` can enforce limits and `remove` takes the connection out of its sets.
   * Without it (tests, the CLI's reads), a `remove` leaves the counts as they were: in lambdas/,
   * only wiring/tables.ts builds a table, and it never leaves it out where `remove` can be called.
   */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly countsTableName?: string,
  ) {}

  /**
   * Stores the connection. With `limits`, counts it against its user's (unless anonymous: each such
   * user has one connection) and its API key's open connections in the same transaction, each a set
   * of connection ids in the counts table, added to on condition that it holds fewer than the
   * limit: exact under any burst of `$connect`s. A full set is first rid of the ids whose
   * connection row is gone (a `$disconnect` that never ran); if it is still full, nothing is stored
   * and ConnectionLimitError says which limit. The `initial` subscriptions (asked for at `$connect`)
   * are written in the same transaction, and their topics in the row's set: the connection opens
   * with every one of them or is not stored at all.
   */
  async register(
    connection: Omit<Connection, 'expiresAt'>,
    limits?: ConnectionLimits & { anonymous?: boolean },
    initial?: InitialSubscriptions,
  ): Promise<Connection> {
    const expiresAt = Math.ceil(connection.connectedAt / 1000) + MAX_CONNECTION_SECONDS;
    const owners: Owner[] = [];
    if (limits !== undefined && this.countsTableName !== undefined) {
      if (!limits.anonymous) owners.push({ kind: 'user', key: userOwner(connection.userId, connection.tenant), limit: limits.perUser });
      if (connection.keyId !== undefined) owners.push({ kind: 'key', key: keyOwner(connection.keyId), limit: limits.perKey });
    }
    const row = {
      ...connection,
      expiresAt,
      ...(connection.credentialExpiresAt !== undefined && { expiryBucket: minuteBucket(connection.credentialExpiresAt) }),
      // Where it is counted, so that its removal takes it out of exactly those sets.
      ...(owners.length > 0 && { [OWNERS]: new Set(owners.map((owner) => owner.key)) }),
      ...(initial !== undefined && initial.topics.length > 0 && { [SUBSCRIBED_TOPICS]: new Set(initial.topics) }),
    };
    const items = (counted: Owner[]) => [
      { Put: { TableName: this.tableName, Item: row } },
      ...counted.map((owner) => ({
        Update: {
          TableName: this.countsTableName,
          Key: { owner: owner.key },
          // The set lives as long as its newest connection can; TTL then deletes it.
          UpdateExpression: 'ADD connectionIds :ids SET expiresAt = :expiresAt',
          ConditionExpression: 'attribute_not_exists(connectionIds) OR size(connectionIds) < :max OR contains(connectionIds, :id)',
          ExpressionAttributeValues: { ':ids': new Set([connection.connectionId]), ':id': connection.connectionId, ':max': owner.limit, ':expiresAt': expiresAt },
        },
      })),
      // After the counts, so that a reason's index still names its owner.
      ...(initial?.items(expiresAt) ?? []),
    ];
    for (let attempt = 1; ; attempt++) {
      const reasons = await transactWrite(this.db, items(owners));
      if (reasons === undefined) return row;
      const full = owners.filter((_, index) => reasons[index + 1]?.Code === 'ConditionalCheckFailed');
      const pruned = attempt === 1 ? await Promise.all(full.map((owner) => this.pruneGone(owner.key))) : [];
      if (pruned.length === 0 || pruned.some((count) => count === 0)) {
        const [owner] = full;
        if (owner === undefined) throw new Error(`connection ${connection.connectionId} was not stored: ${JSON.stringify(reasons)}`);
        throw new ConnectionLimitError(owner.kind, owner.limit);
      }
    }
  }

  /**
   * Takes out of an owner's set the ids whose connection row is gone or past its lifetime: a
   * `$disconnect` API Gateway never delivered, or one that failed between deleting the row and
   * updating the set. A connection and its id are written in one transaction, so a live one is
   * never taken out. Returns how many were.
   */
  private async pruneGone(owner: string): Promise<number> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.countsTableName, Key: { owner }, ConsistentRead: true }));
    const ids = [...((Item?.['connectionIds'] as Set<string> | undefined) ?? [])];
    const now = Math.floor(Date.now() / 1000);
    const live = new Set<string>();
    for (let start = 0; start < ids.length; start += 100) {
      let keys: Record<string, unknown>[] = ids.slice(start, start + 100).map((connectionId) => ({ connectionId }));
      while (keys.length > 0) {
        const { Responses, UnprocessedKeys } = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'connectionId, expiresAt' } } }),
        );
        for (const row of Responses?.[this.tableName] ?? []) if ((row['expiresAt'] as number) > now) live.add(row['connectionId'] as string);
        keys = UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    const gone = ids.filter((id) => !live.has(id));
    if (gone.length > 0) await this.release(owner, gone);
    return gone.length;
  }

  /** Takes connection ids out of an owner's set; nothing if the set is gone (it is never re-created). */
  private async release(owner: string, connectionIds: string[]): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.countsTableName,
          Key: { owner },
          UpdateExpression: 'DELETE connectionIds :ids',
          ConditionExpression: 'attribute_exists(#owner)',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':ids': new Set(connectionIds) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Records a refreshed credential's expiry and grants; false if the connection is gone or already closing. */
  async refreshCredential(connectionId: string, credentialExpiresAt: number, grants: StoredGrants): Promise<boolean> {
    // `closing` stays from the first claim on, through failed attempts and after the last one: a
    // connection a sweep has set out to close is never kept by a new credential.
    return Boolean(
      await this.updateIf(connectionId, {
        UpdateExpression: 'SET credentialExpiresAt = :expiresAt, expiryBucket = :bucket, #grants = :grants',
        ConditionExpression: 'attribute_exists(connectionId) AND attribute_not_exists(closing)',
        ExpressionAttributeNames: { '#grants': 'grants' },
        ExpressionAttributeValues: { ':expiresAt': credentialExpiresAt, ':bucket': minuteBucket(credentialExpiresAt), ':grants': grants },
      }),
    );
  }

  /**
   * The grants the connection's last refresh stored; undefined before any refresh, when the `$connect`
   * authorizer's grants are the connection's. A strongly consistent read: a frame sent after the
   * refresh's reply is checked against the new grants.
   */
  async grantsOf(connectionId: string): Promise<StoredGrants | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { connectionId }, ProjectionExpression: '#grants', ExpressionAttributeNames: { '#grants': 'grants' }, ConsistentRead: true }),
    );
    return Item?.['grants'] as StoredGrants | undefined;
  }

  /**
   * Claims the connection for one attempt to close it: one conditional write, so that overlapping
   * sweeps never close a connection at the same time. It is claimable if it is due (an expired
   * credential is still expired, i.e. not refreshed; a revoked key's connection still exists), no
   * other claim holds it, and fewer than `maxAttempts` claims were made before. The claim holds
   * until `until` (epoch seconds) or until released, and moves the row to the expiry index at
   * `nowSeconds`, so that if this attempt fails or its run dies, the expiry sweep's next runs find
   * it there, within their look-back, whichever sweep made it. Undefined if it is not to be closed
   * now.
   */
  async claimClose(
    connectionId: string,
    { reason, nowSeconds, until, maxAttempts }: { reason: CloseReason; nowSeconds: number; until: number; maxAttempts: number },
  ): Promise<CloseClaim | undefined> {
    const attributes = await this.updateIf(connectionId, {
      // The first reason stays: a retry tells the client what the first attempt meant to.
      UpdateExpression:
        'SET closing = if_not_exists(closing, :reason), closingUntil = :until, closeAttempts = if_not_exists(closeAttempts, :zero) + :one, ' +
        'credentialExpiresAt = :now, expiryBucket = :bucket',
      ConditionExpression:
        (reason === 'credential_expired' ? 'credentialExpiresAt <= :now' : 'attribute_exists(connectionId)') +
        ' AND (attribute_not_exists(closingUntil) OR closingUntil <= :now) AND (attribute_not_exists(closeAttempts) OR closeAttempts < :max)',
      ExpressionAttributeValues: {
        ':reason': reason,
        ':until': until,
        ':zero': 0,
        ':one': 1,
        ':now': nowSeconds,
        ':bucket': minuteBucket(nowSeconds),
        ':max': maxAttempts,
      },
      ReturnValues: 'ALL_NEW',
    });
    if (!attributes) return undefined;
    return {
      reason: attributes['closing'] === 'credential_revoked' ? 'credential_revoked' : 'credential_expired',
      attempt: attributes['closeAttempts'] as number,
      notified: attributes['closeNotified'] === true,
      until,
    };
  }

  /**
   * Ends a failed attempt's claim early, so that the next sweep retries at once rather than when
   * the claim lapses; remembers whether the client was told why. Nothing, if the claim no longer
   * holds (it lapsed, and another sweep may hold the row now).
   */
  async releaseClaim(connectionId: string, claim: CloseClaim, notified: boolean): Promise<void> {
    await this.updateIf(connectionId, {
      UpdateExpression: 'REMOVE closingUntil SET closeNotified = :notified',
      ConditionExpression: 'closingUntil = :until',
      ExpressionAttributeValues: { ':notified': notified, ':until': claim.until },
    });
  }

  /**
   * After the last attempt failed: takes the connection out of the expiry index (no sweep finds it
   * there again; the attempt count refuses further claims) and sets its `expiresAt` to now, so that
   * fan-out no longer delivers to it and TTL deletes the row. The connection itself stays open until
   * API Gateway ends it. Nothing, if the claim no longer holds.
   */
  async abandonClose(connectionId: string, claim: CloseClaim, nowSeconds: number, notified: boolean): Promise<void> {
    await this.updateIf(connectionId, {
      UpdateExpression: 'REMOVE expiryBucket SET expiresAt = :now, closeNotified = :notified',
      ConditionExpression: 'closingUntil = :until',
      ExpressionAttributeValues: { ':now': nowSeconds, ':notified': notified, ':until': claim.until },
    });
  }

  /** One conditional update of the connection's row: the attributes asked for (`ReturnValues`), or undefined where the condition does not hold. */
  private async updateIf(
    connectionId: string,
    update: Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues' | 'ReturnValues'>,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const { Attributes } = await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: { connectionId }, ...update }));
      return Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Connections whose credential expires from `since` to `until` (epoch seconds): one Query per
   * minute bucket of the expiry index, never a Scan.
   */
  async *credentialsExpiring(since: number, until: number): AsyncGenerator<ExpiringCredential> {
    for (const bucket of minuteBucketsBetween(since, until)) {
      const pages = paginateQuery(
        { client: this.db },
        {
          TableName: this.tableName,
          IndexName: EXPIRY_INDEX,
          KeyConditionExpression: 'expiryBucket = :bucket AND credentialExpiresAt BETWEEN :since AND :until',
          ExpressionAttributeValues: { ':bucket': bucket, ':since': since, ':until': until },
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          yield { connectionId: item['connectionId'] as string, credentialExpiresAt: item['credentialExpiresAt'] as number };
        }
      }
    }
  }

  /** The live connections of a keepalive slot: a Query of the sparse keepalive index, a page at a time. */
  async *connectionIdsInKeepaliveSlot(slot: string, { now = Date.now() }: { now?: number } = {}): AsyncGenerator<string[]> {
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        IndexName: KEEPALIVE_INDEX,
        KeyConditionExpression: 'keepaliveSlot = :slot',
        // Rows past their lifetime (TTL deletes lazily, an abandoned close ends it early) get nothing.
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':slot': slot, ':now': Math.floor(now / 1000) },
      },
    );
    for await (const page of pages) yield (page.Items ?? []).map((item) => item['connectionId'] as string);
  }

  /** The connections the API key opened: a Query of the sparse key index. */
  async *connectionIdsOpenedWith(keyId: string): AsyncGenerator<string> {
    const pages = paginateQuery(
      { client: this.db },
      { TableName: this.tableName, IndexName: API_KEY_INDEX, KeyConditionExpression: 'keyId = :keyId', ExpressionAttributeValues: { ':keyId': keyId } },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) yield item['connectionId'] as string;
    }
  }

  /** Deletes the row; what it held (with the topics it was subscribed to), or undefined if it was gone already. */
  async remove(connectionId: string): Promise<RemovedConnection | undefined> {
    const { Attributes } = await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: { connectionId }, ReturnValues: 'ALL_OLD' }));
    if (Attributes === undefined) return undefined;
    // After the row: were this to fail, the id left in a set is pruned when that set is next full.
    const owners = [...((Attributes[OWNERS] as Set<string> | undefined) ?? [])];
    if (this.countsTableName !== undefined) await Promise.all(owners.map((owner) => this.release(owner, [connectionId])));
    return removedConnection(Attributes);
  }

  /**
   * The user's live connection ids (in `tenant` only, if given), a Query page at a time. TTL
   * deletes lazily, so rows past `expiresAt` are filtered out rather than posted to.
   */
  async *connectionIdsOf(userId: string, { tenant, now = Date.now() }: { tenant?: string; now?: number } = {}): AsyncGenerator<string[]> {
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        IndexName: USER_INDEX,
        KeyConditionExpression: 'userId = :userId',
        FilterExpression: tenant === undefined ? 'expiresAt > :now' : 'expiresAt > :now AND tenant = :tenant',
        ProjectionExpression: 'connectionId',
        ExpressionAttributeValues: {
          ':userId': userId,
          ':now': Math.floor(now / 1000),
          ...(tenant !== undefined && { ':tenant': tenant }),
        },
      },
    );
    for await (const page of pages) {
      yield (page.Items ?? []).map((item) => item['connectionId'] as string);
    }
  }
}
