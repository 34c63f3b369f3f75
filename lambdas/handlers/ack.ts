/** `{"action":"ack","stream":"user","seq"}`: answered `acked`, or an error frame. */
import { createDocumentClient } from '../wiring/clients';
import { acknowledge } from '../core/acks';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { ackTableFromEnvironment, streamTableFromEnvironment } from '../wiring/streams';

const db = createDocumentClient();
const streams = streamTableFromEnvironment(db);
const acks = ackTableFromEnvironment(db);
// The route exists only on a stack with history, which sets both.
if (streams === undefined || acks === undefined) throw new Error('the ack route needs STREAMS_TABLE_NAME and ACKS_TABLE_NAME');
const deps = { streams, acks };

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { authorizer } = event.requestContext;
  const tenant = authorizer?.['tenant'];
  return {
    statusCode: 200,
    body: await acknowledge(event.body, { userId: String(authorizer?.['userId'] ?? ''), ...(typeof tenant === 'string' && { tenant }) }, deps),
  };
};
