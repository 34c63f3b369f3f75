/** `{"action":"history","stream","after"?,"before"?,"limit"?}`: a page of the stream's retained entries, in one reply. */
import { historyEnvironment } from '../contract/environment';
import { history } from '../core/stream-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { publicGrantsOf } from '../wiring/public-grants';
import { streamTable } from '../wiring/streams';
import { connectionRows, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(historyEnvironment);
const db = createDocumentClient();
const connections = connectionRows(db, env);
const publicGrants = publicGrantsOf(env);
const deps = { streams: streamTable(db, env), subscriptions: subscriptionTable(db, env) };

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  body: await history(event.body, topicCallerOf(event, publicGrants, await connections.grantsOf(event.requestContext.connectionId)), deps),
});
