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

    const outputs: Record<string, [string, string]> = {
      WebSocketUrl: [this.wsNotify.webSocketUrl, 'wss:// URL clients connect to'],
      ManagementApiEndpoint: [this.wsNotify.managementApiEndpoint, 'API Gateway management API (PostToConnection)'],
      NotifyUserQueueUrl: [this.wsNotify.notifyUserQueue.queueUrl, 'Send {"userId","data"} here'],
      NotifyConnectionQueueUrl: [this.wsNotify.notifyConnectionQueue.queueUrl, 'Send {"connectionId","data"} here'],
      ConnectionsTableName: [this.wsNotify.connectionsTable.tableName, 'Open connections, by id and by user'],
      ApiKeysTableName: [this.wsNotify.apiKeysTable.tableName, 'API keys (ws-notify apikey create|list|revoke)'],
      SubscriptionsTableName: [this.wsNotify.subscriptionsTable.tableName, 'Topic subscriptions, by topic and by connection'],
      EventsUrl: [this.wsNotify.eventsUrl, 'POST CloudEvents to <EventsUrl>/<topic>/events with a publish API key'],
      PublishQueueUrl: [this.wsNotify.publishQueue.queueUrl, 'Send {"topic","event":<CloudEvent>} here'],
    };
    for (const [id, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, id, { value, description });
    }
  }
}
