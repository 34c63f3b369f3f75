import { enrichingTopicFanOutEnvironment } from '../contract/environment';
import { readEnvironment } from '../wiring/environment';
import { lambdaEnrichment } from '../wiring/enrichment';
import { topicFanOutWiring } from '../wiring/topic-fan-out';
import { topicFanOutConsumer } from '../transport/topic-fan-out';

const env = readEnvironment(enrichingTopicFanOutEnvironment);

/** The Publish queue, in a stack with enrichment functions (construct prop `enrichers`): they may name a user, reached through the connection table. */
export const handler = topicFanOutConsumer(topicFanOutWiring(env, (db) => lambdaEnrichment(db, env)));
