import type { SQSRecord } from 'aws-lambda';
import { notifyConnectionEnvironment } from '../contract/environment';
import { DeadLetterQueue } from '../core/dead-letter';
import { deliverToConnection } from '../core/deliver';
import { eventFrame, notificationFrame, topicStream, USER_STREAM } from '../core/frames';
import { isHandOff, NotifyConnectionMessage, parseJsonBody, validMessage } from '../core/messages';
import { EventDelivery } from '../core/topics';
import { sentAt, sentTime, sqsBatchHandler } from '../transport/sqs-batch';
import { createDocumentClient, createManagementApiClient, createSqsClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';
import { connectionTable, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(notifyConnectionEnvironment);
const db = createDocumentClient();
const deps = {
  managementApi: createManagementApiClient(env.MANAGEMENT_API_ENDPOINT),
  connections: connectionTable(db, env),
  subscriptions: subscriptionTable(db, env),
  metrics,
};

/** Backends' NotifyConnection messages, and the topic fan-out's event deliveries (which carry `event`): the frame, and for whom. */
function deliveryOf(record: SQSRecord): {
  connectionId: string;
  frame: string;
  kind: 'event' | 'notification';
  /** A backend's own NotifyConnection notification, counted here (a NotifyUser hand-off was counted there). */
  receivedHere: boolean;
  about: Record<string, string>;
} {
  const json = parseJsonBody(record.body);
  if (typeof json === 'object' && json !== null && 'event' in json) {
    const { connectionId, topic, event, seq, epoch } = validMessage(EventDelivery, json);
    const position = seq !== undefined && epoch !== undefined ? { stream: topicStream(topic), seq, epoch } : undefined;
    return { connectionId, frame: eventFrame(topic, event, position), kind: 'event', receivedHere: false, about: { topic, eventId: event.id } };
  }
  const message = validMessage(NotifyConnectionMessage, json);
  const notification = { id: message.id ?? record.messageId, time: message.time ?? sentTime(record), data: message.data };
  // A NotifyUser hand-off carries the notification's place in its user's stream; a backend's own send is in none.
  const position = message.seq !== undefined && message.epoch !== undefined ? { stream: USER_STREAM, seq: message.seq, epoch: message.epoch } : undefined;
  return {
    connectionId: message.connectionId,
    frame: notificationFrame(notification, position),
    kind: 'notification',
    receivedHere: !isHandOff(message),
    about: { notificationId: notification.id },
  };
}

export const handler = sqsBatchHandler(
  deliveryOf,
  async ({ connectionId, frame, kind, receivedHere, about }, record) => {
    if (receivedHere) metrics.add('NotificationsReceived');
    const outcome = await deliverToConnection(connectionId, frame, sentAt(record), deps);
    logger.debug(`${kind} delivered`, { messageId: record.messageId, ...about, outcome });
  },
  new DeadLetterQueue(createSqsClient(), env.DEAD_LETTER_QUEUE_URL, metrics),
);
