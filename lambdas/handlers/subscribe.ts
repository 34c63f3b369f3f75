/** `{"action":"subscribe","topic","events"?,"group"?,"since"?,"rewind"?}`: answered `subscribed` (then, from a position, the replay and `resumed`), or `forbidden_topic` / `forbidden_group` / `invalid_subscription` / `too_many_subscriptions` / `connection_closed`. */
import { subscribeEnvironment } from '../contract/environment';
import { subscribe } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { publicGrantsOf } from '../wiring/public-grants';
import { streamReadsOf } from '../wiring/streams';
import { connectionRows, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(subscribeEnvironment);
const db = createDocumentClient();
const connections = connectionRows(db, env);
const publicGrants = publicGrantsOf(env);
const subscriptions = subscriptionTable(db, env);
const maxSubscriptionsPerConnection = env.MAX_SUBSCRIPTIONS_PER_CONNECTION;
// `since` and `rewind` read the topic's stream, on a stack with history.
const streamReads = streamReadsOf(db, subscriptions, env);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  const deps = { subscriptions, maxSubscriptionsPerConnection, ...(streamReads && { streamReads: streamReads(connectionId) }) };
  return {
    statusCode: 200,
    // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
    body: await subscribe(event.body, topicCallerOf(event, publicGrants, await connections.grantsOf(connectionId)), deps),
  };
};
