import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { WebSocketEvent, WebSocketResult } from '../../lambdas/transport/events';
import { EmfCapture } from './emf';
import { connectEventFor } from './events';
import { loadHandler } from './load-handler';
import { type ManagementApiServer, type RecordingConnections, startManagementApi } from './management-api-server';
import { CONNECTION_LIMITS_ENV, type StackUnderTest, startStackUnderTest } from './stack-under-test';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The delivery path under test: the engines, a management API recording `clients`, and `$connect`, NotifyUser and NotifyConnection loaded as Lambda loads them, their metrics captured. */
export interface DeliveryUnderTest {
  stack: StackUnderTest;
  managementApi: ManagementApiServer;
  emf: EmfCapture;
  connect: (event: WebSocketEvent) => Promise<WebSocketResult>;
  notifyUser: SqsHandler;
  notifyConnection: SqsHandler;
  /** Connects `connectionId` as `userId` through `$connect`; `open`: the management API can reach it. */
  connectAs(userId: string, connectionId: string, open?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export async function startDeliveryUnderTest(serviceName: string, clients: RecordingConnections): Promise<DeliveryUnderTest> {
  const stack = await startStackUnderTest();
  const managementApi = await startManagementApi(clients, 'live');
  // As the construct sets them on every function.
  const metrics = { POWERTOOLS_METRICS_NAMESPACE: 'WsNotify', POWERTOOLS_SERVICE_NAME: serviceName };
  const tables = { CONNECTIONS_TABLE_NAME: stack.tableName, CONNECTION_COUNTS_TABLE_NAME: stack.connectionCountsTableName, SUBSCRIPTIONS_TABLE_NAME: stack.subscriptionsTableName };
  const connect = loadHandler<(event: WebSocketEvent) => Promise<WebSocketResult>>('connect', { ...tables, ...CONNECTION_LIMITS_ENV });
  const notifyUser = loadHandler<SqsHandler>('notify-user', {
    ...tables,
    ...metrics,
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    NOTIFY_CONNECTION_QUEUE_URL: stack.notifyConnection.url,
    DEAD_LETTER_QUEUE_URL: stack.notifyUser.deadLetterUrl,
  });
  const notifyConnection = loadHandler<SqsHandler>('notify-connection', {
    ...tables,
    ...metrics,
    MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
    DEAD_LETTER_QUEUE_URL: stack.notifyConnection.deadLetterUrl,
  });
  const emf = new EmfCapture();
  return {
    stack,
    managementApi,
    emf,
    connect,
    notifyUser,
    notifyConnection,
    connectAs: async (userId, connectionId, open = true) => {
      expect((await connect(connectEventFor(connectionId, userId))).statusCode).toBe(200);
      if (open) clients.connect(connectionId);
    },
    stop: async () => {
      emf.restore();
      await managementApi.stop();
      await stack.stop();
    },
  };
}
