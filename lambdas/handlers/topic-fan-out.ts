import { topicFanOutHandler } from '../topic-fan-out-handler';

/** The Publish queue, in a stack without enrichment functions. */
export const handler = topicFanOutHandler();
