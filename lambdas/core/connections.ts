import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
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

  /** Records a refreshed credential's expiry; false if the connection is gone or already closing. */
  async refreshCredential(connectionId: string, credentialExpiresAt: number): Promise<boolean> {
    return this.updateIf(connectionId, {
      UpdateExpression: 'SET credentialExpiresAt = :expiresAt, expiryBucket = :bucket',
      ConditionExpression: 'attribute_exists(connectionId) AND attribute_not_exists(closing)',
      ExpressionAttributeValues: { ':expiresAt': credentialExpiresAt, ':bucket': minuteBucket(credentialExpiresAt) },
    });
  }

  /**
   * Marks the connection as closing for its expired credential, if it still is expired (a refresh
   * moves `credentialExpiresAt`) and no other sweep has claimed it: one conditional write, so that
   * overlapping sweeps close each connection once. False if it is not to be closed.
   */
  async claimExpired(connectionId: string, nowSeconds: number): Promise<boolean> {
    return this.updateIf(connectionId, {
      UpdateExpression: 'SET closing = :true',
      ConditionExpression: 'credentialExpiresAt <= :now AND attribute_not_exists(closing)',
      ExpressionAttributeValues: { ':true': true, ':now': nowSeconds },
    });
  }

  /**
   * Marks the connection as closing because the key it connected with was revoked, unless a sweep
   * already claimed it. False if it is not to be closed (again).
   */
  async claimRevoked(connectionId: string): Promise<boolean> {
    return this.updateIf(connectionId, {
      UpdateExpression: 'SET closing = :true',
      ConditionExpression: 'attribute_exists(connectionId) AND attribute_not_exists(closing)',
      ExpressionAttributeValues: { ':true': true },
    });
  }

  /** One conditional update of the connection's row; false where the condition does not hold. */
  private async updateIf(
    connectionId: string,
    update: Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues'>,
  ): Promise<boolean> {
    try {
      await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: { connectionId }, ...update }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
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
