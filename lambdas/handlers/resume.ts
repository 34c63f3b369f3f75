/** `{"action":"resume","streams":{…}}`: the missed entries of each stream (posted), then `resumed` per stream (the last is the reply). */
import { resumeEnvironment } from '../contract/environment';
import { resume } from '../core/stream-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { publicGrantsOf } from '../wiring/public-grants';
import { streamReadsOf } from '../wiring/streams';
import { connectionRows, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(resumeEnvironment);
const db = createDocumentClient();
const connections = connectionRows(db, env);
const publicGrants = publicGrantsOf(env);
const streamReads = streamReadsOf(db, subscriptionTable(db, env), env);

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId } = event.requestContext;
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  const caller = topicCallerOf(event, publicGrants, await connections.grantsOf(connectionId));
  return { statusCode: 200, body: await resume(event.body, caller, streamReads(connectionId)) };
};
