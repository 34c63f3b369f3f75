import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ConnectionTable } from './connections';
import { enqueueAll } from './enqueue';
import { type Notification, notificationFrame } from './frames';
import type { NotifyConnectionMessage } from './messages';

export interface FanOutDeps {
  connections: ConnectionTable;
  sqs: SQSClient;
  notifyConnectionQueueUrl: string;
}

/**
 * User → connections → one NotifyConnection message each. Returns how many connections were
 * enqueued. Throws if any could not be, so the NotifyUser record is retried; a retry may repeat
 * deliveries, which clients recognise by the notification id.
 */
export async function fanOutToUser(userId: string, notification: Notification, deps: FanOutDeps): Promise<number> {
  // Fails before any work if the frame could never be delivered.
  notificationFrame(notification);
  let enqueued = 0;
  for await (const connectionIds of deps.connections.connectionIdsOf(userId)) {
    const bodies = connectionIds.map((connectionId) =>
      JSON.stringify({ connectionId, ...notification } satisfies NotifyConnectionMessage),
    );
    await enqueueAll(deps.sqs, deps.notifyConnectionQueueUrl, bodies);
    enqueued += bodies.length;
  }
  return enqueued;
}
