import { createDocumentClient, createSqsClient } from '../wiring/clients';
import { readConfig } from '../wiring/config';
import { AckTable } from '../core/acks';
import { BatchingSender } from '../core/batching-sender';
import { DeadLetterQueue } from '../core/dead-letter';
import { parseMessage } from '../core/messages';
import { AckCheckMessage, checkAck } from '../core/undelivered';
import { logger } from '../wiring/logger';
import { metrics } from '../wiring/metrics';
import { sqsBatchHandler } from '../transport/sqs-batch';

const config = readConfig('STREAMS_TABLE_NAME', 'ACKS_TABLE_NAME', 'HISTORY_TTL_SECONDS', 'UNDELIVERED_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL');
const db = createDocumentClient();
const sqs = createSqsClient();
const deps = {
  db,
  streamsTableName: config.STREAMS_TABLE_NAME,
  acks: new AckTable(db, config.ACKS_TABLE_NAME, Number(config.HISTORY_TTL_SECONDS)),
  // The checks of a batch that go out leave in one SendMessageBatch.
  undelivered: new BatchingSender(sqs, config.UNDELIVERED_QUEUE_URL),
};

/** AckCheck messages, `ackTimeout` after their notification: an unacked one goes to the Undelivered queue. */
export const handler = sqsBatchHandler(
  (record) => parseMessage(AckCheckMessage, record.body),
  async (check, record) => {
    const outcome = await checkAck(check, deps);
    logger.debug('ack checked', { messageId: record.messageId, seq: check.seq, outcome });
  },
  new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL, metrics),
);
