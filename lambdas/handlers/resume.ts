/** `{"action":"resume","streams":{…}}`: the missed entries of each stream (posted), then `resumed` per stream (the last is the reply). */
import { createDocumentClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { ConnectionTable } from '../core/connections';
import { resume } from '../core/stream-frames';
import { SubscriptionTable } from '../core/subscriptions';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { streamReadsFromEnvironment } from '../wiring/streams';
import { publicGroupsFromEnvironment, publicTopicsFromEnvironment, topicCallerOf } from '../transport/topic-caller';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'CONNECTIONS_TABLE_NAME', 'STREAMS_TABLE_NAME');
const db = createDocumentClient();
const connections = new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME);
const publicGrants = { topics: publicTopicsFromEnvironment(), groups: publicGroupsFromEnvironment() };
const streamReads = streamReadsFromEnvironment(db, new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME))!;

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  const caller = topicCallerOf(event, publicGrants, await connections.grantsOf(connectionId));
  return { statusCode: 200, body: await resume(event.body, caller, streamReads(connectionId)) };
};
