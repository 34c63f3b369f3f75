import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Environment, topicFanOutEnvironment } from '../contract/environment';
import { DeadLetterQueue } from '../core/dead-letter';
import type { Enrichment, TopicFanOutDeps } from '../core/topic-fan-out';
import { createDocumentClient, createSqsClient } from './clients';
import { metrics } from './metrics';
import { publicTopicsOf } from './public-grants';
import { streamTable } from './streams';
import { subscriptionTable } from './tables';

/** The topic fan-out, set up once per cold start: what it fans out with, where it dead-letters, and which queue is its own. */
export interface TopicFanOutWiring {
  deps: TopicFanOutDeps;
  deadLetters: DeadLetterQueue;
  /** Records from this queue are the fan-out's own pages; any other's are Publish messages from a backend. */
  topicPagesQueueArn: string;
}

/** For a stack with enrichment functions, `enrichmentFrom` brings them (and the Lambda client) along. */
export function topicFanOutWiring(
  env: Environment<typeof topicFanOutEnvironment>,
  enrichmentFrom?: (db: DynamoDBDocumentClient) => Enrichment,
): TopicFanOutWiring {
  const sqs = createSqsClient();
  const db = createDocumentClient();
  const streams = streamTable(db, env);
  return {
    deps: {
      subscriptions: subscriptionTable(db, env),
      sqs,
      notifyConnectionQueueUrl: env.NOTIFY_CONNECTION_QUEUE_URL,
      topicPagesQueueUrl: env.TOPIC_PAGES_QUEUE_URL,
      metrics,
      ...(env.TENANT_CLAIM && { tenantClaim: env.TENANT_CLAIM }),
      publicTopics: publicTopicsOf(env),
      ...(enrichmentFrom && { enrichment: enrichmentFrom(db) }),
      ...(streams && { streams }),
    },
    deadLetters: new DeadLetterQueue(sqs, env.DEAD_LETTER_QUEUE_URL, metrics),
    topicPagesQueueArn: env.TOPIC_PAGES_QUEUE_ARN,
  };
}
