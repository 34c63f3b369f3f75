import { LambdaClient } from '@aws-sdk/client-lambda';
import { createDocumentClient, createSqsClient } from '../clients';
import { readConfig, readOptionalConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import { DeadLetterQueue } from '../core/dead-letter';
import type { Enrichers } from '../core/enrichment';
import { parseMessage } from '../core/messages';
import { SubscriptionTable } from '../core/subscriptions';
import { fanOutToTopic } from '../core/topic-fan-out';
import { PublishMessage } from '../core/topics';
import { logger } from '../logger';
import { sqsBatchHandler } from '../sqs-batch';

const config = readConfig('SUBSCRIPTIONS_TABLE_NAME', 'NOTIFY_CONNECTION_QUEUE_URL', 'PUBLISH_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL');
const { TENANT_CLAIM, ENRICHERS, CONNECTIONS_TABLE_NAME } = readOptionalConfig('TENANT_CLAIM', 'ENRICHERS', 'CONNECTIONS_TABLE_NAME');
const sqs = createSqsClient();
const db = createDocumentClient();
// Topics with an enrichment function (construct prop `enrichers`): the function may name a user, reached through the connection table.
const enrichment =
  ENRICHERS && CONNECTIONS_TABLE_NAME
    ? { enrichers: JSON.parse(ENRICHERS) as Enrichers, lambda: new LambdaClient({}), connections: new ConnectionTable(db, CONNECTIONS_TABLE_NAME) }
    : undefined;
const deps = {
  subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
  sqs,
  notifyConnectionQueueUrl: config.NOTIFY_CONNECTION_QUEUE_URL,
  publishQueueUrl: config.PUBLISH_QUEUE_URL,
  ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }),
  ...(enrichment && { enrichment }),
};

/** The Publish queue: each event to its topic's subscribers, a page of them per message. */
export const handler = sqsBatchHandler(async (record) => {
  const message = parseMessage(PublishMessage, record.body);
  const outcome = await fanOutToTopic(message, deps);
  logger.info('event fanned out', { messageId: record.messageId, topic: message.topic, eventId: message.event.id, ...outcome });
}, new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL));
