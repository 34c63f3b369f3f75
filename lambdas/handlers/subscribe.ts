/** `{"action":"subscribe","topic","events"?,"group"?,"since"?,"rewind"?}`: answered `subscribed` (then, from a position, the replay and `resumed`), or `forbidden_topic` / `forbidden_group` / `invalid_subscription` / `too_many_subscriptions` / `connection_closed`. */
import { createDocumentClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { ConnectionTable } from '../core/connections';
import { SubscriptionTable } from '../core/subscriptions';
import { subscribe } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { streamReadsFromEnvironment } from '../wiring/streams';
import { publicGroupsFromEnvironment, publicTopicsFromEnvironment, topicCallerOf } from '../transport/topic-caller';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'MAX_SUBSCRIPTIONS_PER_CONNECTION', 'CONNECTIONS_TABLE_NAME');
const db = createDocumentClient();
const connections = new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME);
const publicGrants = { topics: publicTopicsFromEnvironment(), groups: publicGroupsFromEnvironment() };
const subscriptions = new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME, config.CONNECTIONS_TABLE_NAME);
const maxSubscriptionsPerConnection = Number(config.MAX_SUBSCRIPTIONS_PER_CONNECTION);
// `since` and `rewind` read the topic's stream, on a stack with history.
const streamReads = streamReadsFromEnvironment(db, subscriptions);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  const deps = { subscriptions, maxSubscriptionsPerConnection, ...(streamReads && { streamReads: streamReads(connectionId) }) };
  return {
    statusCode: 200,
    // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
    body: await subscribe(event.body, topicCallerOf(event, publicGrants, await connections.grantsOf(connectionId)), deps),
  };
};
