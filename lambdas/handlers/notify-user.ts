import { notifyUserEnvironment } from '../contract/environment';
import { DeadLetterQueue } from '../core/dead-letter';
import { fanOutToUser } from '../core/fan-out';
import { NotifyUserMessage, parseMessage } from '../core/messages';
import { appendOrigin, sentTime, sqsBatchHandler } from '../transport/sqs-batch';
import { createDocumentClient, createManagementApiClient, createSqsClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';
import { streamTable } from '../wiring/streams';
import { connectionTable, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(notifyUserEnvironment);
const db = createDocumentClient();
const streams = streamTable(db, env);
const sqs = createSqsClient();
const deps = {
  connections: connectionTable(db, env),
  subscriptions: subscriptionTable(db, env),
  managementApi: createManagementApiClient(env.MANAGEMENT_API_ENDPOINT),
  sqs,
  notifyConnectionQueueUrl: env.NOTIFY_CONNECTION_QUEUE_URL,
  metrics,
  ...(env.TENANT_CLAIM && { tenantClaim: env.TENANT_CLAIM }),
  ...(streams && { streams }),
  ...(env.ACK_CHECK_QUEUE_URL && { ackCheckQueueUrl: env.ACK_CHECK_QUEUE_URL }),
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
  new DeadLetterQueue(sqs, env.DEAD_LETTER_QUEUE_URL, metrics),
);
