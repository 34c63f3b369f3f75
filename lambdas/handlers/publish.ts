import { createDocumentClient, createSqsClient } from '../wiring/clients';
import { ConnectionTable } from '../core/connections';
import { readConfig } from '../wiring/config';
import { publishFromClient } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';

const config = readConfig('TOPIC_PAGES_QUEUE_URL', 'CONNECTIONS_TABLE_NAME');
const connections = new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME);
const deps = { sqs: createSqsClient(), topicPagesQueueUrl: config.TOPIC_PAGES_QUEUE_URL };

/** `{"action":"publish","topic","event"}`: onto the fan-out's own queue, if the credential may publish there. */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  // Public topics and groups are for reading: they grant no publishing.
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  body: await publishFromClient(event.body, topicCallerOf(event, { topics: [], groups: [] }, await connections.grantsOf(event.requestContext.connectionId)), deps),
});
