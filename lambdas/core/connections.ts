import { DeleteCommand, type DynamoDBDocumentClient, paginateQuery, PutCommand } from '@aws-sdk/lib-dynamodb';

/** API Gateway closes every WebSocket connection after 2 hours; a row older than that is dead. */
export const MAX_CONNECTION_SECONDS = 2 * 60 * 60;

/** The GSI that finds a user's connections (partition key `userId`). */
export const USER_INDEX = 'byUser';
/** What the fan-out filters on, projected into the GSI so that a Query reads the index alone. */
export const USER_INDEX_ATTRIBUTES = ['expiresAt', 'tenant'];

export interface Connection {
  connectionId: string;
  userId: string;
  /** The tenant the credential named, in a multi-tenant stack. */
  tenant?: string;
  /** Epoch milliseconds, as API Gateway reports it. */
  connectedAt: number;
  /** Epoch seconds; the table's TTL attribute, for rows whose `$disconnect` never arrived. */
  expiresAt: number;
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
    };
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: row }));
    return row;
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
