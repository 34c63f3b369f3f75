/** `{"action":"subscribe","topic","events"?,"group"?}`: answered `subscribed`, or `forbidden_topic` / `forbidden_group` / `invalid_subscription` / `too_many_subscriptions` / `connection_closed`. */
import { createDocumentClient } from '../clients';
import { readConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import { SubscriptionTable } from '../core/subscriptions';
import { subscribe } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../events';
import { publicGroupsFromEnvironment, publicTopicsFromEnvironment, topicCallerOf } from '../topic-caller';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'MAX_SUBSCRIPTIONS_PER_CONNECTION', 'CONNECTIONS_TABLE_NAME');
const connections = new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME);
const publicGrants = { topics: publicTopicsFromEnvironment(), groups: publicGroupsFromEnvironment() };
const deps = {
  subscriptions: new SubscriptionTable(createDocumentClient(), config.SUBSCRIPTIONS_TABLE_NAME, config.CONNECTIONS_TABLE_NAME),
  maxSubscriptionsPerConnection: Number(config.MAX_SUBSCRIPTIONS_PER_CONNECTION),
};

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  body: await subscribe(event.body, topicCallerOf(event, publicGrants, await connections.grantsOf(event.requestContext.connectionId)), deps),
});
