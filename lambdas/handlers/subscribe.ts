/** `{"action":"subscribe","topic","events"?,"group"?}`: answered `subscribed`, or `forbidden_topic` / `invalid_subscription` / `too_many_subscriptions` / `connection_closed`. */
import { createDocumentClient } from '../clients';
import { readConfig } from '../config';
import { SubscriptionTable } from '../core/subscriptions';
import { subscribe } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../events';
import { publicTopicsFromEnvironment, topicCallerOf } from '../topic-caller';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'CONNECTIONS_TABLE_NAME', 'MAX_SUBSCRIPTIONS_PER_CONNECTION');
const publicTopics = publicTopicsFromEnvironment();
const deps = {
  subscriptions: new SubscriptionTable(createDocumentClient(), config.SUBSCRIPTIONS_TABLE_NAME, config.CONNECTIONS_TABLE_NAME),
  maxSubscriptionsPerConnection: Number(config.MAX_SUBSCRIPTIONS_PER_CONNECTION),
};

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  body: await subscribe(event.body, topicCallerOf(event, publicTopics), deps),
});
