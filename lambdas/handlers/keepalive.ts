import type { Context, ScheduledEvent } from 'aws-lambda';
import { keepaliveEnvironment } from '../contract/environment';
import { sendKeepalives } from '../core/keepalive';
import { createDocumentClient, createManagementApiClient } from '../wiring/clients';
import { readEnvironment } from '../wiring/environment';
import { logger } from '../wiring/logger';
import { connectionTable, subscriptionTable } from '../wiring/tables';

const env = readEnvironment(keepaliveEnvironment);
const db = createDocumentClient();
const deps = {
  connections: connectionTable(db, env),
  subscriptions: subscriptionTable(db, env),
  managementApi: createManagementApiClient(env.MANAGEMENT_API_ENDPOINT),
};

/**
 * Every minute (EventBridge): sends `{"type":"keepalive"}` to the keepalive connections of the
 * minute's slot, within the invocation's remaining time.
 */
export const handler = async (event: Partial<Pick<ScheduledEvent, 'time'>>, context: Context): Promise<void> => {
  // The rule's scheduled time names the minute; a run that starts a little late still serves it.
  const scheduled = Date.parse(event.time ?? '');
  const { failures, ...counts } = await sendKeepalives(Number.isNaN(scheduled) ? Date.now() : scheduled, {
    ...deps,
    deadline: Date.now() + context.getRemainingTimeInMillis(),
  });
  if (counts.failed > 0) logger.warn('keepalive sweep could not post to some connections; their next keepalive is a period later', { failures });
  if (counts.deferred > 0) logger.warn('keepalive sweep ran out of time: connections of this slot were not posted to', { deferred: counts.deferred });
  logger.info('keepalive sweep', counts);
};
