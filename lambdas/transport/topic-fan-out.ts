import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, createSqsClient } from '../wiring/clients';
import { readConfig, readOptionalConfig } from '../wiring/config';
import { DeadLetterQueue } from '../core/dead-letter';
import { SubscriptionTable } from '../core/subscriptions';
import { type Enrichment, fanOutToTopic } from '../core/topic-fan-out';
import { InvalidMessageError, parseMessage } from '../core/messages';
import { PublishMessage, reservedAttributeProblem, stampPublisher, TopicPage } from '../core/topics';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';
import { appendOrigin, sqsBatchHandler } from './sqs-batch';
import { streamTableFromEnvironment } from '../wiring/streams';
import { publicTopicsFromEnvironment } from './topic-caller';

/**
 * The consumer of the Publish queue and of the fan-out's own page queue: each event to its topic's
 * subscribers, a page of them per message. Stacks with enrichment functions get a variant that
 * brings them (and the Lambda client) along.
 */
export function topicFanOutHandler(enrichmentFrom?: (db: DynamoDBDocumentClient) => Enrichment) {
  const config = readConfig(
    'SUBSCRIPTIONS_TABLE_NAME',
    'NOTIFY_CONNECTION_QUEUE_URL',
    'TOPIC_PAGES_QUEUE_URL',
    'TOPIC_PAGES_QUEUE_ARN',
    'DEAD_LETTER_QUEUE_URL',
  );
  const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
  const sqs = createSqsClient();
  const db = createDocumentClient();
  const streams = streamTableFromEnvironment(db);
  const deps = {
    subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
    sqs,
    notifyConnectionQueueUrl: config.NOTIFY_CONNECTION_QUEUE_URL,
    topicPagesQueueUrl: config.TOPIC_PAGES_QUEUE_URL,
    metrics,
    ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }),
    publicTopics: publicTopicsFromEnvironment(),
    ...(enrichmentFrom && { enrichment: enrichmentFrom(db) }),
    ...(streams && { streams }),
  };
  return sqsBatchHandler(
    // A page cursor and a publisher count only on the queue that only ws-notify's functions write to
    // (Lambda names the queue of each record); on a Publish message, `after` is an unknown field like
    // any other, and the publisher is a backend.
    (record) => {
      if (record.eventSourceARN !== config.TOPIC_PAGES_QUEUE_ARN) return { message: fromBackend(parseMessage(PublishMessage, record.body)) };
      // A page with no cursor is a stamped event's first page; one with `after` and/or `groups` continues a fan-out.
      const { after, groups, seq, epoch, ...message } = parseMessage(TopicPage, record.body);
      return {
        message,
        cursors: { ...(after !== undefined && { after }), ...(groups !== undefined && { groups }), ...(seq !== undefined && epoch !== undefined && { seq, epoch }) },
      };
    },
    async ({ message, cursors }, record) => {
      const outcome = await fanOutToTopic(message, deps, cursors, appendOrigin(record));
      logger.info('event fanned out', { messageId: record.messageId, topic: message.topic, eventId: message.event.id, ...outcome });
    },
    new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL, metrics),
  );
}

/** A Publish message's event, stamped as a backend's: one that claims to come from the server is dead-lettered. */
function fromBackend(message: PublishMessage): PublishMessage {
  const problem = reservedAttributeProblem(message.event);
  if (problem !== undefined) throw new InvalidMessageError('reserved_source', problem);
  return { ...message, event: stampPublisher(message.event, 'backend') };
}
