import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  PutCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { minuteBucket, minuteBucketsBetween } from './minute-buckets';

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
}

/**
 * What a connection's latest credential grants (its `topics`, `publishTopics` and `groups`), stored
 * on its row by a refresh. API Gateway hands every route the `$connect` authorizer's context for the
 * connection's whole life, so a refresh cannot change that: subscribe and publish read the row.
 */
export interface StoredGrants {
  subscribe: string[];
  publish: string[];
  groups: string[];
}

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
export class ConnectionTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async register(connection: Omit<Connection, 'expiresAt'>): Promise<Connection> {
    const row = {
      ...connection,
      expiresAt: Math.ceil(connection.connectedAt / 1000) + MAX_CONNECTION_SECONDS,
      ...(connection.credentialExpiresAt !== undefined && { expiryBucket: minuteBucket(connection.credentialExpiresAt) }),
    };
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: row }));
    return row;
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

  async remove(connectionId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: { connectionId } }));
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
