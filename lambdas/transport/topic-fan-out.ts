import type { SQSRecord } from 'aws-lambda';
import { InvalidMessageError, parseMessage } from '../core/messages';
import { fanOutToTopic, type PageCursors } from '../core/topic-fan-out';
import { PublishMessage, reservedAttributeProblem, stampPublisher, TopicPage } from '../core/topics';
import { logger } from '../wiring/logger';
import type { TopicFanOutWiring } from '../wiring/topic-fan-out';
import { appendOrigin, sqsBatchHandler } from './sqs-batch';

/**
 * The consumer of the Publish queue and of the fan-out's own page queue: each event to its topic's
 * subscribers, a page of them per message.
 */
export function topicFanOutConsumer({ deps, deadLetters, topicPagesQueueArn }: TopicFanOutWiring) {
  return sqsBatchHandler(
    (record) => topicFanOutRecord(record, topicPagesQueueArn),
    async ({ message, cursors }, record) => {
      const outcome = await fanOutToTopic(message, deps, cursors, appendOrigin(record));
      logger.info('event fanned out', { messageId: record.messageId, topic: message.topic, eventId: message.event.id, ...outcome });
    },
    deadLetters,
  );
}

/**
 * A page cursor and a publisher count only on the queue that only ws-notify's functions write to
 * (Lambda names the queue of each record); on a Publish message, `after` is an unknown field like
 * any other, and the publisher is a backend.
 */
function topicFanOutRecord(record: SQSRecord, topicPagesQueueArn: string): { message: PublishMessage; cursors?: PageCursors } {
  if (record.eventSourceARN !== topicPagesQueueArn) return { message: fromBackend(parseMessage(PublishMessage, record.body)) };
  // A page with no cursor is a stamped event's first page; one with `after` and/or `groups` continues a fan-out.
  const { after, groups, seq, epoch, ...message } = parseMessage(TopicPage, record.body);
  return {
    message,
    cursors: { ...(after !== undefined && { after }), ...(groups !== undefined && { groups }), ...(seq !== undefined && epoch !== undefined && { seq, epoch }) },
  };
}

/** A Publish message's event, stamped as a backend's: one that claims to come from the server is dead-lettered. */
function fromBackend(message: PublishMessage): PublishMessage {
  const problem = reservedAttributeProblem(message.event);
  if (problem !== undefined) throw new InvalidMessageError('reserved_source', problem);
  return { ...message, event: stampPublisher(message.event, 'backend') };
}
