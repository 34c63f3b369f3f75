import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, createSqsClient } from './clients';
import { readConfig, readOptionalConfig } from './config';
import { DeadLetterQueue } from './core/dead-letter';
import { parseMessage } from './core/messages';
import { SubscriptionTable } from './core/subscriptions';
import { type Enrichment, fanOutToTopic } from './core/topic-fan-out';
import { PublishMessage } from './core/topics';
import { logger } from './logger';
import { metrics } from './metrics';
import { sqsBatchHandler } from './sqs-batch';

/**
 * The Publish queue's consumer: each event to its topic's subscribers, a page of them per message.
 * Stacks with enrichment functions get a variant that brings them (and the Lambda client) along.
 */
export function topicFanOutHandler(enrichmentFrom?: (db: DynamoDBDocumentClient) => Enrichment) {
  const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'NOTIFY_CONNECTION_QUEUE_URL', 'PUBLISH_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL');
  const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
  const sqs = createSqsClient();
  const db = createDocumentClient();
  const deps = {
    subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
    sqs,
    notifyConnectionQueueUrl: config.NOTIFY_CONNECTION_QUEUE_URL,
    publishQueueUrl: config.PUBLISH_QUEUE_URL,
    metrics,
    ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }),
    ...(enrichmentFrom && { enrichment: enrichmentFrom(db) }),
  };
  return sqsBatchHandler(async (record) => {
    const message = parseMessage(PublishMessage, record.body);
    const outcome = await fanOutToTopic(message, deps);
    logger.info('event fanned out', { messageId: record.messageId, topic: message.topic, eventId: message.event.id, ...outcome });
  }, new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL, metrics));
}
