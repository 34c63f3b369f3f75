import { createDocumentClient, createManagementApiClient, createSqsClient } from '../clients';
import { readConfig } from '../config';
import { ConnectionTable } from '../core/connections';
import { DeadLetterQueue } from '../core/dead-letter';
import { deliverToConnection } from '../core/deliver';
import { eventFrame, notificationFrame } from '../core/frames';
import { NotifyConnectionMessage, parseJsonBody, validMessage } from '../core/messages';
import { SubscriptionTable } from '../core/subscriptions';
import { EventDelivery } from '../core/topics';
import { logger } from '../logger';
import { metrics } from '../metrics';
import { sentAt, sentTime, sqsBatchHandler } from '../sqs-batch';

const config = readConfig('CONNECTIONS_TABLE_NAME', 'SUBSCRIPTIONS_TABLE_NAME', 'MANAGEMENT_API_ENDPOINT', 'DEAD_LETTER_QUEUE_URL');
const db = createDocumentClient();
const deps = {
  managementApi: createManagementApiClient(config.MANAGEMENT_API_ENDPOINT),
  connections: new ConnectionTable(db, config.CONNECTIONS_TABLE_NAME),
  subscriptions: new SubscriptionTable(db, config.SUBSCRIPTIONS_TABLE_NAME),
  metrics,
};

/** Backends' NotifyConnection messages, and the topic fan-out's event deliveries (which carry `event`). */
export const handler = sqsBatchHandler(async (record) => {
  const json = parseJsonBody(record.body);
  if (typeof json === 'object' && json !== null && 'event' in json) {
    const { connectionId, topic, event } = validMessage(EventDelivery, json);
    const outcome = await deliverToConnection(connectionId, eventFrame(topic, event), sentAt(record), deps);
    logger.debug('event delivered', { messageId: record.messageId, topic, eventId: event.id, outcome });
    return;
  }
  const message = validMessage(NotifyConnectionMessage, json);
  const notification = { id: message.id ?? record.messageId, time: message.time ?? sentTime(record), data: message.data };
  const frame = notificationFrame(notification);
  // A message with a time is a NotifyUser fan-out's hand-off: that notification was counted there.
  if (message.time === undefined) metrics.add('NotificationsReceived');
  const outcome = await deliverToConnection(message.connectionId, frame, sentAt(record), deps);
  logger.debug('notification delivered', { messageId: record.messageId, notificationId: notification.id, outcome });
}, new DeadLetterQueue(createSqsClient(), config.DEAD_LETTER_QUEUE_URL, metrics));
