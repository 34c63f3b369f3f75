import { ackCheckEnvironment } from '../contract/environment';
import { BatchingSender } from '../core/batching-sender';
import { DeadLetterQueue } from '../core/dead-letter';
import { parseMessage } from '../core/messages';
import { AckCheckMessage, checkAck } from '../core/undelivered';
import { sqsBatchHandler } from '../transport/sqs-batch';
import { createDocumentClient, createSqsClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';
import { ackTable } from '../wiring/streams';

const env = readEnvironment(ackCheckEnvironment);
const db = createDocumentClient();
const sqs = createSqsClient();
const deps = {
  db,
  streamsTableName: env.STREAMS_TABLE_NAME,
  acks: ackTable(db, env),
  // The checks of a batch that go out leave in one SendMessageBatch.
  undelivered: new BatchingSender(sqs, env.UNDELIVERED_QUEUE_URL),
};

/** AckCheck messages, `ackTimeout` after their notification: an unacked one goes to the Undelivered queue. */
export const handler = sqsBatchHandler(
  (record) => parseMessage(AckCheckMessage, record.body),
  async (check, record) => {
    const outcome = await checkAck(check, deps);
    logger.debug('ack checked', { messageId: record.messageId, seq: check.seq, outcome });
  },
  new DeadLetterQueue(sqs, env.DEAD_LETTER_QUEUE_URL, metrics),
);
