import { createHash } from 'node:crypto';
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, paginateQuery, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { topicKey } from './topics';
import { type TransactItems, transactWrite } from './transactions';

/** The GSI that finds a connection's subscriptions (partition key `connectionId`), to remove them with it. */
export const CONNECTION_INDEX = 'byConnection';

/** Topics one connection may be subscribed to at once, unless the construct says otherwise. */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

/**
 * A topic's subscribers live in two partitions: plain ones under `s<tenant>#<topic>` and group
 * members under `g<tenant>#<topic>`, both paged through by the fan-out (which carries each group's
 * choice from page to page). A connection has one subscription per topic.
 */
const PLAIN = 's';
const GROUPED = 'g';

export interface Subscription {
  connectionId: string;
  topic: string;
  tenant?: string;
  /** Event-type filters; absent: every type. */
  events?: string[];
  group?: string;
  /** Epoch seconds: the connection's own TTL, so a subscription never outlives it. */
  expiresAt: number;
}

export interface SubscriberPage {
  subscribers: Pick<Subscription, 'connectionId' | 'events'>[];
  /** Where the next page starts; absent on the last page. */
  after?: string;
}

/** Where a subscription is refused: the connection holds its limit of other topics already. */
export class TooManySubscriptionsError extends Error {
  override readonly name = 'TooManySubscriptionsError';
}

/** Where a subscribe arrives after its connection's row is gone: it closed meanwhile. */
export class ConnectionGoneError extends Error {
  override readonly name = 'ConnectionGoneError';
}

/** The connection row's set of the topics it is subscribed to (one per topic, grouped or not). */
export const SUBSCRIBED_TOPICS = 'subscribedTopics';

/** Subscriptions a new connection's `$connect` writes with its row (ConnectionTable.register). */
export interface InitialSubscriptions {
  /** The row's set of topics. */
  topics: string[];
  /** The subscriptions' rows, given the connection's `expiresAt`, as transaction items. */
  items(expiresAt: number): TransactItems;
}

export class SubscriptionTable {
  /**
   * @param connectionsTableName the connection table, whose row for each connection holds the set
   * of topics it is subscribed to: needed to subscribe and unsubscribe, not to read subscribers.
   */
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly connectionsTableName?: string,
  ) {}

  /**
   * Stores the subscription, replacing the connection's earlier one to the topic, grouped or not.
   * One transaction adds the topic to the connection row's set, on condition that the row exists
   * and the set holds fewer than `maxTopics` other topics, and writes the subscription: the limit
   * is exact under any burst of frames (each is decided on the row, never on an index that lags),
   * and no subscription is stored for a connection whose `$disconnect` has removed its row.
   * Throws TooManySubscriptionsError or ConnectionGoneError.
   */
  async subscribe(subscription: Subscription, maxTopics: number): Promise<void> {
    const { connectionId, topic, tenant, group } = subscription;
    const [kept, dropped] = group === undefined ? [PLAIN, GROUPED] : [GROUPED, PLAIN];
    const reasons = await transactWrite(this.db, [
      {
        Update: {
          TableName: this.connections(),
          Key: { connectionId },
          UpdateExpression: `ADD ${SUBSCRIBED_TOPICS} :topics`,
          ConditionExpression:
            `attribute_exists(connectionId) AND (attribute_not_exists(${SUBSCRIBED_TOPICS}) OR ` +
            `contains(${SUBSCRIBED_TOPICS}, :topic) OR size(${SUBSCRIBED_TOPICS}) < :max)`,
          ExpressionAttributeValues: { ':topics': new Set([topic]), ':topic': topic, ':max': maxTopics },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      { Put: { TableName: this.tableName, Item: { ...subscription, topicKey: kept + topicKey(topic, tenant) } } },
      { Delete: { TableName: this.tableName, Key: { topicKey: dropped + topicKey(topic, tenant), connectionId } } },
    ]);
    if (reasons === undefined) return;
    // The row is there (its old image came back): the set was full.
    if (reasons[0]?.Item !== undefined) throw new TooManySubscriptionsError(`a connection may hold ${maxTopics} subscriptions`);
    throw new ConnectionGoneError(`connection ${connectionId} is gone`);
  }

  /**
   * The subscriptions of a connection being registered (one per topic), for its `$connect`
   * transaction: a new connection has no earlier subscription to replace, and the limit was checked
   * on the list (`connectSubscriptions`).
   */
  initial(connectionId: string, tenant: string | undefined, subscriptions: readonly Omit<Subscription, 'connectionId' | 'tenant' | 'expiresAt'>[]): InitialSubscriptions {
    return {
      topics: subscriptions.map((subscription) => subscription.topic),
      items: (expiresAt) =>
        subscriptions.map((subscription) => ({
          Put: {
            TableName: this.tableName,
            Item: {
              ...subscription,
              connectionId,
              ...(tenant !== undefined && { tenant }),
              expiresAt,
              topicKey: (subscription.group === undefined ? PLAIN : GROUPED) + topicKey(subscription.topic, tenant),
            },
          },
        })),
    };
  }

  /** Removes the subscription and its topic from the connection row's set; removes the rows alone if the connection is gone. */
  async unsubscribe(connectionId: string, topic: string, tenant: string | undefined): Promise<void> {
    const rows = [PLAIN, GROUPED].map((kind) => ({
      Delete: { TableName: this.tableName, Key: { topicKey: kind + topicKey(topic, tenant), connectionId } },
    }));
    const reasons = await transactWrite(this.db, [
      {
        Update: {
          TableName: this.connections(),
          Key: { connectionId },
          UpdateExpression: `DELETE ${SUBSCRIBED_TOPICS} :topics`,
          // Without it, an update of a row that is gone would create one.
          ConditionExpression: 'attribute_exists(connectionId)',
          ExpressionAttributeValues: { ':topics': new Set([topic]) },
        },
      },
      ...rows,
    ]);
    if (reasons !== undefined) await transactWrite(this.db, rows);
  }

  /**
   * The connection's subscriptions, by topic and group: one Query of the connection index (which
   * holds keys only), then a read of each grouped one for its group. For a refresh to end the ones
   * its grants no longer cover; a connection holds at most its subscription limit.
   */
  async subscriptionsOf(connectionId: string): Promise<{ topic: string; group?: string }[]> {
    const found: { topic: string; group?: string }[] = [];
    for await (const key of this.topicKeysOf(connectionId)) {
      // `<kind><tenant>#<topic>`: a topic holds no `#`, so it is what follows the last one.
      const topic = key.slice(key.lastIndexOf('#') + 1);
      if (!key.startsWith(GROUPED)) {
        found.push({ topic });
        continue;
      }
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: { topicKey: key, connectionId }, ProjectionExpression: '#group', ExpressionAttributeNames: { '#group': 'group' } }),
      );
      // Gone meanwhile (unsubscribed, or the connection closed): nothing to end.
      if (Item !== undefined) found.push({ topic, group: Item['group'] as string });
    }
    return found;
  }

  /** The keys of the connection's subscriptions, from the connection index (which holds keys only). */
  private async *topicKeysOf(connectionId: string): AsyncGenerator<string> {
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        IndexName: CONNECTION_INDEX,
        KeyConditionExpression: 'connectionId = :connectionId',
        ExpressionAttributeValues: { ':connectionId': connectionId },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) yield item['topicKey'] as string;
    }
  }

  /** The connection's subscription to the topic (in `tenant`), plain or grouped, if it holds one: its filters and group. */
  async subscriptionTo(connectionId: string, topic: string, tenant: string | undefined): Promise<Pick<Subscription, 'events' | 'group'> | undefined> {
    const items = await Promise.all(
      [PLAIN, GROUPED].map(async (kind) => {
        const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { topicKey: kind + topicKey(topic, tenant), connectionId }, ConsistentRead: true }));
        return Item;
      }),
    );
    const item = items.find((found) => found !== undefined && (found['expiresAt'] as number) > Date.now() / 1000);
    if (item === undefined) return undefined;
    return { ...(item['events'] !== undefined && { events: item['events'] as string[] }), ...(item['group'] !== undefined && { group: item['group'] as string }) };
  }

  private connections(): string {
    if (this.connectionsTableName === undefined) throw new Error('SubscriptionTable: subscribing needs the connection table');
    return this.connectionsTableName;
  }

  /**
   * Removes every subscription of a connection that is gone: those its removed row's set names
   * (`removed`, read with the row's deletion, so that none a racing subscribe stored is missed),
   * and those the connection index shows. Batched deletes.
   */
  async removeAllOf(connectionId: string, removed?: { tenant?: string; subscribedTopics?: readonly string[] }): Promise<void> {
    const keys = new Map<string, { topicKey: string; connectionId: string }>();
    for (const topic of removed?.subscribedTopics ?? []) {
      for (const kind of [PLAIN, GROUPED]) keys.set(kind + topicKey(topic, removed?.tenant), { topicKey: kind + topicKey(topic, removed?.tenant), connectionId });
    }
    for await (const key of this.topicKeysOf(connectionId)) keys.set(key, { topicKey: key, connectionId });
    const all = [...keys.values()];
    for (let start = 0; start < all.length; start += 25) {
      let requests = all.slice(start, start + 25).map((Key) => ({ DeleteRequest: { Key } }));
      // BatchWriteItem may leave some unprocessed under throttling; send those again.
      while (requests.length > 0) {
        const { UnprocessedItems } = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
        requests = (UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      }
    }
  }

  /** One page of the topic's plain subscribers, live ones only, from `after` on. */
  async plainSubscribers(topic: string, tenant: string | undefined, { after, limit, now = Date.now() }: PageOptions): Promise<SubscriberPage> {
    const partition = PLAIN + topicKey(topic, tenant);
    const { Items = [], LastEvaluatedKey } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'topicKey = :topicKey',
        FilterExpression: 'expiresAt > :now',
        ProjectionExpression: 'connectionId, events',
        ExpressionAttributeValues: { ':topicKey': partition, ':now': Math.floor(now / 1000) },
        Limit: limit,
        ...(after !== undefined && { ExclusiveStartKey: { topicKey: partition, connectionId: after } }),
      }),
    );
    return {
      subscribers: Items.map(subscriberOf),
      ...(LastEvaluatedKey !== undefined && { after: LastEvaluatedKey['connectionId'] as string }),
    };
  }

  /** One page of the topic's live group members, with their groups, from `after` on. */
  async groupMembers(topic: string, tenant: string | undefined, { after, limit, now = Date.now() }: PageOptions): Promise<GroupMemberPage> {
    const partition = GROUPED + topicKey(topic, tenant);
    const { Items = [], LastEvaluatedKey } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'topicKey = :topicKey',
        FilterExpression: 'expiresAt > :now',
        ProjectionExpression: 'connectionId, events, #group',
        ExpressionAttributeNames: { '#group': 'group' },
        ExpressionAttributeValues: { ':topicKey': partition, ':now': Math.floor(now / 1000) },
        Limit: limit,
        ...(after !== undefined && { ExclusiveStartKey: { topicKey: partition, connectionId: after } }),
      }),
    );
    return {
      members: Items.map((item) => ({ ...subscriberOf(item), group: item['group'] as string })),
      ...(LastEvaluatedKey !== undefined && { after: LastEvaluatedKey['connectionId'] as string }),
    };
  }
}

export interface GroupMemberPage {
  members: (Pick<Subscription, 'connectionId' | 'events'> & { group: string })[];
  /** Where the next page starts; absent on the last page. */
  after?: string;
}

export interface PageOptions {
  after?: string;
  limit: number;
  now?: number;
}

function subscriberOf(item: Record<string, unknown>): Pick<Subscription, 'connectionId' | 'events'> {
  const events = item['events'] as string[] | undefined;
  return { connectionId: item['connectionId'] as string, ...(events !== undefined && { events }) };
}

/**
 * The group member that gets an event: the highest hash of (event, member), rendezvous hashing.
 * Every retry of the event picks the same member, members share events evenly, and the choice can
 * be made a page of members at a time (the one chosen so far weighed against each).
 */
export function chooseMember<T extends { connectionId: string }>(members: readonly T[], eventKey: string): T | undefined {
  let chosen: T | undefined;
  let best = '';
  for (const member of members) {
    const score = createHash('sha256').update(eventKey).update('\0').update(member.connectionId).digest('hex');
    if (chosen === undefined || score > best) [chosen, best] = [member, score];
  }
  return chosen;
}
