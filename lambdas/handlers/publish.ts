import { publishEnvironment } from '../contract/environment';
import { publishFromClient } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../transport/events';
import { topicCallerOf } from '../transport/topic-caller';
import { createDocumentClient, createSqsClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { connectionRows } from '../wiring/tables';

const env = readEnvironment(publishEnvironment);
const connections = connectionRows(createDocumentClient(), env);
const deps = { sqs: createSqsClient(), topicPagesQueueUrl: env.TOPIC_PAGES_QUEUE_URL };

/** `{"action":"publish","topic","event"}`: onto the fan-out's own queue, if the credential may publish there. */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  // Public topics and groups are for reading: they grant no publishing.
  // One GetItem per frame: a refresh may have replaced the grants the authorizer passed on.
  body: await publishFromClient(event.body, topicCallerOf(event, { topics: [], groups: [] }, await connections.grantsOf(event.requestContext.connectionId)), deps),
});
