import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { WsNotify, type WsNotifyProps } from './ws-notify';

export type WsNotifyStackProps = StackProps & WsNotifyProps;

/** Deploys one WsNotify and names its endpoints as stack outputs. */
export class WsNotifyStack extends Stack {
  public readonly wsNotify: WsNotify;

  constructor(scope: Construct, id: string, props: WsNotifyStackProps) {
    super(scope, id, props);
    this.wsNotify = new WsNotify(this, 'WsNotify', props);
    outputEndpoints(this, this.wsNotify);
  }
}

/** Names a WsNotify's endpoints as stack outputs, as `npx ws-notify` and the local runtime read them. */
export function outputEndpoints(stack: Stack, wsNotify: WsNotify): void {
  const outputs: Record<string, [string, string]> = {
    WebSocketUrl: [wsNotify.webSocketUrl, 'wss:// URL clients connect to'],
    ManagementApiEndpoint: [wsNotify.managementApiEndpoint, 'API Gateway management API (PostToConnection)'],
    NotifyUserQueueUrl: [wsNotify.notifyUserQueue.queueUrl, 'Send {"userId","data"} here'],
    NotifyConnectionQueueUrl: [wsNotify.notifyConnectionQueue.queueUrl, 'Send {"connectionId","data"} here'],
    ConnectionsTableName: [wsNotify.connectionsTable.tableName, 'Open connections, by id and by user'],
    ApiKeysTableName: [wsNotify.apiKeysTable.tableName, 'API keys (ws-notify apikey create|list|revoke)'],
    SubscriptionsTableName: [wsNotify.subscriptionsTable.tableName, 'Topic subscriptions, by topic and by connection'],
    EventsUrl: [wsNotify.eventsUrl, 'POST CloudEvents to <EventsUrl>/<topic>/events with a publish API key'],
    PublishQueueUrl: [wsNotify.publishQueue.queueUrl, 'Send {"topic","event":<CloudEvent>} here'],
    NotifyUserDeadLetterQueueUrl: [wsNotify.notifyUserDeadLetterQueue.queueUrl, 'NotifyUser messages that failed (ws-notify dlq)'],
    NotifyConnectionDeadLetterQueueUrl: [wsNotify.notifyConnectionDeadLetterQueue.queueUrl, 'NotifyConnection messages that failed (ws-notify dlq)'],
    PublishDeadLetterQueueUrl: [wsNotify.publishDeadLetterQueue.queueUrl, 'Publish messages that failed (ws-notify dlq)'],
    // Only a stack with history has it: the streams `resume` and `history` read.
    ...(wsNotify.streamsTable !== undefined && {
      StreamsTableName: [wsNotify.streamsTable.tableName, 'User and topic streams (history), by stream and seq'],
    }),
    ...(wsNotify.acksTable !== undefined && {
      AcksTableName: [wsNotify.acksTable.tableName, "Each user stream's acked position (ws-notify streams)"],
    }),
    // Only a stack with ackTimeout has it: the backend's offline fallback (e-mail, push).
    ...(wsNotify.undeliveredQueue !== undefined && {
      UndeliveredQueueUrl: [wsNotify.undeliveredQueue.queueUrl, 'User notifications no connection acked within ackTimeout, one message each'],
    }),
    // Only a multi-tenant stack has it: the CLI refuses a send or publish that names no tenant there.
    ...(wsNotify.tenantClaim !== undefined && {
      TenantClaim: [wsNotify.tenantClaim, 'The JWT claim naming a tenant: NotifyUser and Publish messages must name one'],
    }),
  };
  for (const [id, [value, description]] of Object.entries(outputs)) {
    new CfnOutput(stack, id, { value, description });
  }
}
