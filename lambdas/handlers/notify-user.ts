import { createDocumentClient, createSqsClient } from '../clients';
import { readConfig, readOptionalConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import { DeadLetterQueue } from '../core/dead-letter';
import { fanOutToUser } from '../core/fan-out';
import { NotifyUserMessage, parseMessage } from '../core/messages';
import { logger } from '../logger';
import { sentTime, sqsBatchHandler } from '../sqs-batch';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'NOTIFY_CONNECTION_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL');
const { TENANT_CLAIM } = readOptionalConfig('TENANT_CLAIM');
const sqs = createSqsClient();
const deps = {
  connections: new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME),
  sqs,
  notifyConnectionQueueUrl: config.NOTIFY_CONNECTION_QUEUE_URL,
  ...(TENANT_CLAIM && { tenantClaim: TENANT_CLAIM }),
};

export const handler = sqsBatchHandler(async (record) => {
  const message = parseMessage(NotifyUserMessage, record.body);
  const notification = { id: message.id ?? record.messageId, time: sentTime(record), data: message.data };
  const connections = await fanOutToUser(message, notification, deps);
  logger.info('notification fanned out', { messageId: record.messageId, notificationId: notification.id, connections });
}, new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL));
