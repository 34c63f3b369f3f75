import { createHash } from 'node:crypto';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { topicKey } from './topics';

/** The GSI that finds a connection's subscriptions (partition key `connectionId`), to count them and to remove them with it. */
export const CONNECTION_INDEX = 'byConnection';

/** Topics one connection may be subscribed to at once, unless the construct says otherwise. */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

/**
 * A topic's subscribers live in two partitions: plain ones under `s<tenant>#<topic>`, paged
 * through by the fan-out, and group members under `g<tenant>#<topic>`, read whole so that one
 * member per group can be chosen for each event. A connection has one subscription per topic.
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

export class SubscriptionTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Stores the subscription, replacing the connection's earlier one to the topic, grouped or not. */
  async subscribe(subscription: Subscription): Promise<void> {
    const { connectionId, topic, tenant, group } = subscription;
    const [kept, dropped] = group === undefined ? [PLAIN, GROUPED] : [GROUPED, PLAIN];
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: { ...subscription, topicKey: kept + topicKey(topic, tenant) } } },
          { Delete: { TableName: this.tableName, Key: { topicKey: dropped + topicKey(topic, tenant), connectionId } } },
        ],
      }),
    );
  }

  /**
   * How many topics the connection is subscribed to besides `topic`, counted up to `upTo`. The
   * connection index is eventually consistent, so subscriptions made a moment ago may be missed.
   */
  async countOtherTopics(connectionId: string, topic: string, tenant: string | undefined, upTo: number): Promise<number> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: CONNECTION_INDEX,
        KeyConditionExpression: 'connectionId = :connectionId',
        ExpressionAttributeValues: { ':connectionId': connectionId },
        ProjectionExpression: 'topicKey',
        // The topic itself may be among them, once.
        Limit: upTo + 1,
      }),
    );
    const own = topicKey(topic, tenant);
    return Items.filter((item) => (item['topicKey'] as string).slice(1) !== own).length;
  }

  async unsubscribe(connectionId: string, topic: string, tenant: string | undefined): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [PLAIN, GROUPED].map((kind) => ({
          Delete: { TableName: this.tableName, Key: { topicKey: kind + topicKey(topic, tenant), connectionId } },
        })),
      }),
    );
  }

  /**
   * The connection's subscriptions, by topic and group: one Query of the connection index (which
   * holds keys only), then a read of each grouped one for its group. For a refresh to end the ones
   * its grants no longer cover; a connection holds at most its subscription limit.
   */
  async subscriptionsOf(connectionId: string): Promise<{ topic: string; group?: string }[]> {
    const found: { topic: string; group?: string }[] = [];
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
      for (const item of page.Items ?? []) {
        const key = item['topicKey'] as string;
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
    }
    return found;
  }

  /** Removes every subscription of a connection that is gone: one Query of the connection index, then batched deletes. */
  async removeAllOf(connectionId: string): Promise<void> {
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
      const keys = (page.Items ?? []).map((item) => ({ topicKey: item['topicKey'] as string, connectionId }));
      for (let start = 0; start < keys.length; start += 25) {
        let requests = keys.slice(start, start + 25).map((Key) => ({ DeleteRequest: { Key } }));
        // BatchWriteItem may leave some unprocessed under throttling; send those again.
        while (requests.length > 0) {
          const { UnprocessedItems } = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
          requests = (UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
        }
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

  /** The topic's live group members, by group. Groups are meant to be small: a few consumers sharing a stream. */
  async groups(topic: string, tenant: string | undefined, now = Date.now()): Promise<Map<string, Pick<Subscription, 'connectionId' | 'events'>[]>> {
    const groups = new Map<string, Pick<Subscription, 'connectionId' | 'events'>[]>();
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'topicKey = :topicKey',
        FilterExpression: 'expiresAt > :now',
        ProjectionExpression: 'connectionId, events, #group',
        ExpressionAttributeNames: { '#group': 'group' },
        ExpressionAttributeValues: { ':topicKey': GROUPED + topicKey(topic, tenant), ':now': Math.floor(now / 1000) },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const group = item['group'] as string;
        groups.set(group, [...(groups.get(group) ?? []), subscriberOf(item)]);
      }
    }
    return groups;
  }
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
 * Every retry of the event picks the same member, and members share events evenly.
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
