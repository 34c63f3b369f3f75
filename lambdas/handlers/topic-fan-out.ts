import { topicFanOutHandler } from '../transport/topic-fan-out';

/** The Publish queue, in a stack without enrichment functions. */
export const handler = topicFanOutHandler();
