import {
  type ApiGatewayManagementApiClient,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionTable } from './connections';
import { InvalidMessageError } from './messages';
import type { SubscriptionTable } from './subscriptions';

export interface DeliverDeps {
  managementApi: ApiGatewayManagementApiClient;
  connections: ConnectionTable;
  subscriptions: SubscriptionTable;
}

export type DeliveryOutcome = 'delivered' | 'gone';

/**
 * Posts a frame to one connection. A gone connection (410) has its row and its subscriptions
 * removed and counts as done; throttling and 5xx are retried by the SDK, then thrown for SQS to retry.
 */
export async function deliverToConnection(connectionId: string, frame: string, deps: DeliverDeps): Promise<DeliveryOutcome> {
  try {
    await deps.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
    return 'delivered';
  } catch (error) {
    if (error instanceof GoneException) {
      await Promise.all([deps.connections.remove(connectionId), deps.subscriptions.removeAllOf(connectionId)]);
      return 'gone';
    }
    if (error instanceof PayloadTooLargeException) {
      throw new InvalidMessageError('payload_too_large', error.message, { cause: error });
    }
    throw error;
  }
}
