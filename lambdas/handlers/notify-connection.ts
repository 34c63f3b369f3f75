import { createDocumentClient, createManagementApiClient, createSqsClient } from '../clients';
import { readConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import { DeadLetterQueue } from '../core/dead-letter';
import { deliverToConnection } from '../core/deliver';
import { NotifyConnectionMessage, parseMessage } from '../core/messages';
import { logger } from '../logger';
import { sentTime, sqsBatchHandler } from '../sqs-batch';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT', 'DEAD_LETTER_QUEUE_URL');
const deps = {
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
  connections: new ConnectionTable(createDocumentClient(), config.CONNECTIONS_TABLE_NAME),
};

export const handler = sqsBatchHandler(async (record) => {
  const message = parseMessage(NotifyConnectionMessage, record.body);
  const notification = {
    id: message.id ?? record.messageId,
    time: message.time ?? sentTime(record),
    data: message.data,
  };
  const outcome = await deliverToConnection(message.connectionId, notification, deps);
  logger.info('notification delivered', { messageId: record.messageId, notificationId: notification.id, outcome });
}, new DeadLetterQueue(createSqsClient(), config.DEAD_LETTER_QUEUE_URL));
