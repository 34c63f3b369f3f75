import { AttributeType, ProjectionType, type Table } from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { API_KEY_INDEX, EXPIRY_INDEX, KEEPALIVE_INDEX, KEEPALIVE_INDEX_ATTRIBUTES, USER_INDEX, USER_INDEX_ATTRIBUTES } from '../lambdas/core/connections';
import { CONNECTION_INDEX } from '../lambdas/core/subscriptions';
import { addEnvironment, allow, newTable } from './builders';
import type { WsNotifySettings } from './settings';

/**
 * Where connections live: a row per connection (by id; by user, credential expiry, API key and
 * keepalive slot through its indexes), the open connections counted per user and API key, and each
 * connection's topic subscriptions. A function that removes a connection gets all three, so that it
 * can never delete the row and leave its counts or subscriptions behind.
 */
export class ConnectionStore {
  public readonly connectionsTable: Table;
  /** The open connections of each user and API key (a set of ids per item), counted against their limits at `$connect`. */
  public readonly connectionCountsTable: Table;
  /** Topic subscriptions: by topic (plain and grouped partitions), and by connection through a GSI. */
  public readonly subscriptionsTable: Table;

  constructor(scope: Construct, settings: WsNotifySettings) {
    this.connectionsTable = newTable(
      scope,
      'Connections',
      { partitionKey: { name: 'connectionId', type: AttributeType.STRING }, timeToLiveAttribute: 'expiresAt' },
      settings.removalPolicy,
    );
    this.connectionsTable.addGlobalSecondaryIndex({
      indexName: USER_INDEX,
      partitionKey: { name: 'userId', type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: USER_INDEX_ATTRIBUTES,
    });
    this.connectionsTable.addGlobalSecondaryIndex({
      indexName: EXPIRY_INDEX,
      partitionKey: { name: 'expiryBucket', type: AttributeType.STRING },
      sortKey: { name: 'credentialExpiresAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    this.connectionsTable.addGlobalSecondaryIndex({
      indexName: API_KEY_INDEX,
      partitionKey: { name: 'keyId', type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    if (settings.keepalive !== 'off') {
      // Sparse: only keepalive connections carry a slot, so the sweep reads exactly those due.
      this.connectionsTable.addGlobalSecondaryIndex({
        indexName: KEEPALIVE_INDEX,
        partitionKey: { name: 'keepaliveSlot', type: AttributeType.STRING },
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: KEEPALIVE_INDEX_ATTRIBUTES,
      });
    }

    // TTL: an item outlives its newest connection by nothing; one left by lost $disconnects goes.
    this.connectionCountsTable = newTable(
      scope,
      'ConnectionCounts',
      { partitionKey: { name: 'owner', type: AttributeType.STRING }, timeToLiveAttribute: 'expiresAt' },
      settings.removalPolicy,
    );

    this.subscriptionsTable = newTable(
      scope,
      'Subscriptions',
      {
        partitionKey: { name: 'topicKey', type: AttributeType.STRING },
        sortKey: { name: 'connectionId', type: AttributeType.STRING },
        timeToLiveAttribute: 'expiresAt',
      },
      settings.removalPolicy,
    );
    this.subscriptionsTable.addGlobalSecondaryIndex({
      indexName: CONNECTION_INDEX,
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      sortKey: { name: 'topicKey', type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
  }

  /**
   * `$connect`: one transaction (its per-item actions) puts the row, adds the connection to its
   * user's and key's sets and the subscriptions asked for at connect; at a limit, the set is read and
   * its ids' rows too, and those gone are taken out.
   */
  grantConnect(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn, { subscriptions: true });
    allow(fn, ['dynamodb:PutItem', 'dynamodb:BatchGetItem'], [this.connectionsTable.tableArn]);
    allow(fn, ['dynamodb:UpdateItem', 'dynamodb:GetItem'], [this.connectionCountsTable.tableArn]);
    allow(fn, ['dynamodb:PutItem'], [this.subscriptionsTable.tableArn]);
  }

  /** Removing a connection: its row, its place in its user's and key's counts, and its subscriptions (Query its index, BatchWriteItem the deletes). */
  grantRemove(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn, { subscriptions: true });
    allow(fn, ['dynamodb:DeleteItem'], [this.connectionsTable.tableArn]);
    allow(fn, ['dynamodb:UpdateItem'], [this.connectionCountsTable.tableArn]);
    allow(fn, ['dynamodb:Query'], [this.bySubscriber]);
    allow(fn, ['dynamodb:BatchWriteItem'], [this.subscriptionsTable.tableArn]);
  }

  /** The grants a refresh stored on the connection's row, read per frame. */
  grantReadGrants(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn);
    allow(fn, ['dynamodb:GetItem'], [this.connectionsTable.tableArn]);
  }

  /** One transaction (its per-item actions): the topic into the connection row's set, counted against the limit there, and the subscription's row. */
  grantSubscribe(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn, { subscriptions: true });
    allow(fn, ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [this.subscriptionsTable.tableArn]);
    allow(fn, ['dynamodb:UpdateItem'], [this.connectionsTable.tableArn]);
  }

  grantUnsubscribe(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn, { subscriptions: true });
    allow(fn, ['dynamodb:DeleteItem'], [this.subscriptionsTable.tableArn]);
    allow(fn, ['dynamodb:UpdateItem'], [this.connectionsTable.tableArn]);
  }

  /** A refresh stores the new grants, lists the connection's subscriptions, reads a grouped one's group, and ends those no longer granted. */
  grantRefresh(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn, { subscriptions: true });
    allow(fn, ['dynamodb:UpdateItem'], [this.connectionsTable.tableArn]);
    allow(fn, ['dynamodb:Query'], [this.bySubscriber]);
    allow(fn, ['dynamodb:GetItem', 'dynamodb:DeleteItem'], [this.subscriptionsTable.tableArn]);
  }

  /** A user's connections, through the user index. */
  grantFindByUser(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn);
    allow(fn, ['dynamodb:Query'], [`${this.connectionsTable.tableArn}/index/${USER_INDEX}`]);
  }

  /** A topic's subscribers, page by page. */
  grantReadSubscribers(fn: NodejsFunction): void {
    addEnvironment(fn, { SUBSCRIPTIONS_TABLE_NAME: this.subscriptionsTable.tableName });
    allow(fn, ['dynamodb:Query'], [this.subscriptionsTable.tableArn]);
  }

  /** Whether the connection is subscribed to a topic (and in which group). */
  grantReadSubscription(fn: NodejsFunction): void {
    addEnvironment(fn, { SUBSCRIPTIONS_TABLE_NAME: this.subscriptionsTable.tableName });
    allow(fn, ['dynamodb:GetItem'], [this.subscriptionsTable.tableArn]);
  }

  /**
   * The credential sweep: the connections whose credential expires, and those of the API keys
   * revoked lately (read from `revokedApiKeys`' index); their rows are marked closing.
   */
  grantSweep(fn: NodejsFunction, revokedApiKeys: { readonly tableName: string; readonly indexArn: string }): void {
    this.addConnectionsEnvironment(fn);
    addEnvironment(fn, { API_KEYS_TABLE_NAME: revokedApiKeys.tableName });
    allow(fn, ['dynamodb:Query'], [
      `${this.connectionsTable.tableArn}/index/${EXPIRY_INDEX}`,
      `${this.connectionsTable.tableArn}/index/${API_KEY_INDEX}`,
      revokedApiKeys.indexArn,
    ]);
    allow(fn, ['dynamodb:UpdateItem'], [this.connectionsTable.tableArn]);
  }

  /** The keepalive sweep: the connections of a minute's slot. */
  grantFindKeepaliveSlot(fn: NodejsFunction): void {
    this.addConnectionsEnvironment(fn);
    allow(fn, ['dynamodb:Query'], [`${this.connectionsTable.tableArn}/index/${KEEPALIVE_INDEX}`]);
  }

  /**
   * The table names alone, for a handler that builds the subscription table without calling it.
   * (History builds one for its dependencies and never reads it; kept so its environment is unchanged.)
   */
  addSubscriptionsTableName(fn: NodejsFunction): void {
    addEnvironment(fn, { SUBSCRIPTIONS_TABLE_NAME: this.subscriptionsTable.tableName });
  }

  /** Every function that names the connection table also names the counts: its removals release them. */
  private addConnectionsEnvironment(fn: NodejsFunction, options: { subscriptions?: boolean } = {}): void {
    addEnvironment(fn, {
      CONNECTIONS_TABLE_NAME: this.connectionsTable.tableName,
      CONNECTION_COUNTS_TABLE_NAME: this.connectionCountsTable.tableName,
      ...(options.subscriptions && { SUBSCRIPTIONS_TABLE_NAME: this.subscriptionsTable.tableName }),
    });
  }

  private get bySubscriber(): string {
    return `${this.subscriptionsTable.tableArn}/index/${CONNECTION_INDEX}`;
  }
}
