/** `{"action":"ack","stream":"user","seq"}`: answered `acked`, or an error frame. */
import { ackEnvironment } from '../contract/environment';
import { acknowledge } from '../core/acks';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { callerOf } from '../transport/topic-caller';
import { createDocumentClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { ackTable, streamTable } from '../wiring/streams';

// The route exists only on a stack with history, whose streams and acks this function requires.
const env = readEnvironment(ackEnvironment);
const db = createDocumentClient();
const deps = { streams: streamTable(db, env), acks: ackTable(db, env) };

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { userId, tenant } = callerOf(event);
  return { statusCode: 200, body: await acknowledge(event.body, { userId, ...(tenant !== undefined && { tenant }) }, deps) };
};
