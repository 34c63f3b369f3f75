import {
  type ApiGatewayManagementApiClient,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { type ConnectionTable, removeConnection } from './connections';
import { InvalidMessageError } from './messages';
import type { MetricsRecorder } from './metrics';
import type { SubscriptionTable } from './subscriptions';

export interface DeliverDeps {
  managementApi: ApiGatewayManagementApiClient;
  connections: ConnectionTable;
  subscriptions: SubscriptionTable;
  metrics: MetricsRecorder;
}

export type DeliveryOutcome = 'delivered' | 'gone';

/**
 * Posts a frame to one connection. A gone connection (410) has its row and its subscriptions
 * removed and counts as done; throttling and 5xx are retried by the SDK, then thrown for the caller
 * to retry through a queue. `sentAt` is when the queue message that asked for the post was sent
 * (epoch milliseconds): a successful post records how long it took to get here from there.
 */
export async function deliverToConnection(connectionId: string, frame: string, sentAt: number, deps: DeliverDeps): Promise<DeliveryOutcome> {
  try {
    await deps.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
  } catch (error) {
    if (error instanceof GoneException) {
      await removeConnection(connectionId, deps);
      deps.metrics.add('ConnectionsGone');
      return 'gone';
    }
    if (error instanceof PayloadTooLargeException) {
      throw new InvalidMessageError('payload_too_large', error.message, { cause: error });
    }
    // Every caller retries what this throws through a queue (NotifyConnection, or the record's own).
    deps.metrics.add('DeliveriesRetried');
    if (error instanceof LimitExceededException) deps.metrics.add('DeliveriesThrottled');
    throw error;
  }
  deps.metrics.add('DeliveriesPosted');
  // Clocks of SQS and Lambda may disagree by a little; a latency is never negative.
  deps.metrics.add('DeliveryLatency', Math.max(0, Date.now() - sentAt));
  return 'delivered';
}
