/** `{"action":"history","stream","after"?,"before"?,"limit"?}`: a page of the stream's retained entries, in one reply. */
import { createDocumentClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { ConnectionTable } from '../core/connections';
import { history } from '../core/stream-frames';
import { SubscriptionTable } from '../core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { streamTableFromEnvironment } from '../wiring/streams';
import { publicGroupsFromEnvironment, publicTopicsFromEnvironment, topicCallerOf } from '../transport/topic-caller';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'CONNECTIONS_TABLE_NAME', 'STREAMS_TABLE_NAME');
const db = createDocumentClient();
const connections = new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME);
const publicGrants = { topics: publicTopicsFromEnvironment(), groups: publicGroupsFromEnvironment() };
const deps = { streams: streamTableFromEnvironment(db)!, subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME) };

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  body: await history(event.body, topicCallerOf(event, publicGrants, await connections.grantsOf(event.requestContext.connectionId)), deps),
});
