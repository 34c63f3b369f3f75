import {
  type ApiGatewayManagementApiClient,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionTable } from './connections';
import { type Notification, notificationFrame } from './frames';
import { InvalidMessageError } from './messages';

export interface DeliverDeps {
  managementApi: ApiGatewayManagementApiClient;
  connections: ConnectionTable;
}

export type DeliveryOutcome = 'delivered' | 'gone';

/**
 * Posts the notification frame to one connection. A gone connection (410) has its row removed
 * and counts as done; throttling and 5xx are retried by the SDK, then thrown for SQS to retry.
 */
export async function deliverToConnection(
  connectionId: string,
  notification: Notification,
  deps: DeliverDeps,
): Promise<DeliveryOutcome> {
  const frame = notificationFrame(notification);
  try {
    await deps.managementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
    return 'delivered';
  } catch (error) {
    if (error instanceof GoneException) {
      await deps.connections.remove(connectionId);
      return 'gone';
    }
    if (error instanceof PayloadTooLargeException) {
      throw new InvalidMessageError('payload_too_large', error.message, { cause: error });
    }
    throw error;
  }
}
