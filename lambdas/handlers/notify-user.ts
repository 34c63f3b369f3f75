import { createDocumentClient, createManagementApiClient, createSqsClient } from '../wiring/clients';
import { readConfig, readOptionalConfig } from '../wiring/config';
import { ConnectionTable } from '../core/connections';
import { DeadLetterQueue } from '../core/dead-letter';
import { fanOutToUser } from '../core/fan-out';
import { NotifyUserMessage, parseMessage } from '../core/messages';
import { SubscriptionTable } from '../core/subscriptions';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';
import { appendOrigin, sentTime, sqsBatchHandler } from '../transport/sqs-batch';
import { streamTableFromEnvironment } from '../wiring/streams';

const config = readConfig(
  'CONNECTIONS_TABLE_NAME', 'CONNECTION_COUNTS_TABLE_NAME',
  'SUBSCRIPTIONS_TABLE_NAME',
  'MANAGEMENT_API_ENDPOINT',
  'NOTIFY_CONNECTION_QUEUE_URL',
  'DEAD_LETTER_QUEUE_URL',
);
const { TENANT_CLAIM, ACK_CHECK_QUEUE_URL } = readOptionalConfig('TENANT_CLAIM', 'ACK_CHECK_QUEUE_URL');
const db = createDocumentClient();
const streams = streamTableFromEnvironment(db);
const sqs = createSqsClient();
const deps = {
  connections: new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME, config.CONNECTION_COUNTS_TABLE_NAME),
  subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
  sqs,
  notifyConnectionQueueUrl: config.NOTIFY_CONNECTION_QUEUE_URL,
  metrics,
  ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }),
  ...(streams && { streams }),
  ...(ACK_CHECK_QUEUE_URL && { ackCheckQueueUrl: ACK_CHECK_QUEUE_URL }),
};

export const handler = sqsBatchHandler(
  (record) => {
    const message = parseMessage(NotifyUserMessage, record.body);
    return { message, notification: { id: message.id ?? record.messageId, time: sentTime(record), data: message.data } };
  },
  async ({ message, notification }, record) => {
    const { failures, ...counts } = await fanOutToUser(message, notification, appendOrigin(record), deps);
    for (const { connectionId, error } of failures) {
      logger.warn('delivery failed; the NotifyConnection queue retries it', { notificationId: notification.id, connectionId, error: error as Error });
    }
    logger.debug('notification fanned out', { messageId: record.messageId, notificationId: notification.id, ...counts });
  },
  new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL, metrics),
);
