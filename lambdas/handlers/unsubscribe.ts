/** `{"action":"unsubscribe","topic"}`: answered `unsubscribed`. */
import { createDocumentClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { SubscriptionTable } from '../core/subscriptions';
import { unsubscribe } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { publicTopicsFromEnvironment, topicCallerOf } from '../transport/topic-caller';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'CONNECTIONS_TABLE_NAME');
const publicTopics = publicTopicsFromEnvironment();
const deps = { subscriptions: new SubscriptionTable(createDocumentClient(), config.SUBSCRIPTIONS_TABLE_NAME, config.CONNECTIONS_TABLE_NAME) };

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  body: await unsubscribe(event.body, topicCallerOf(event, { topics: publicTopics, groups: [] }), deps),
});
