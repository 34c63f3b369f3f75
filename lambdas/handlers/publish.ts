import { createSqsClient } from '../clients';
import { readConfig } from '../config';
import { publishFromClient } from '../core/topic-frames';
import type { WebSocketEvent, WebSocketResult } from '../events';
import { topicCallerOf } from '../topic-caller';

const config = readConfig('PUBLISH_QUEUE_URL');
const deps = { sqs: createSqsClient(), publishQueueUrl: config.PUBLISH_QUEUE_URL };

/** `{"action":"publish","topic","event"}`: onto the Publish queue, if the credential may publish there. */
export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => ({
  statusCode: 200,
  // Public topics are for reading: they grant no publishing.
  body: await publishFromClient(event.body, topicCallerOf(event, []), deps),
});
