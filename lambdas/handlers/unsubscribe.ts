/** `{"action":"unsubscribe","topic"}`: answered `unsubscribed`. */
import { unsubscribeEnvironment } from '../contract/environment';
import { unsubscribe } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { publicTopicsOf } from '../wiring/public-grants';
import { subscriptionTable } from '../wiring/tables';

const env = readEnvironment(unsubscribeEnvironment);
const publicTopics = publicTopicsOf(env);
const deps = { subscriptions: subscriptionTable(createDocumentClient(), env) };

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  body: await unsubscribe(event.body, topicCallerOf(event, { topics: publicTopics, groups: [] }), deps),
});
