import { topicFanOutEnvironment } from '../contract/environment';
import { readEnvironment } from '../wiring/environment';
import { topicFanOutWiring } from '../wiring/topic-fan-out';
import { topicFanOutConsumer } from '../transport/topic-fan-out';

/** The Publish queue, in a stack without enrichment functions. */
export const handler = topicFanOutConsumer(topicFanOutWiring(readEnvironment(topicFanOutEnvironment)));
