import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * The design of the widely copied AWS sample (aws-samples/simple-websockets-chat-app): a table of
 * connection ids, and one function that Scans the whole table for every message and posts to each
 * connection it finds in one loop. Two changes make it do ws-notify's job on the same workload:
 * connections are stored with their user (from the query string: the sample has no authorizer), and
 * the function takes NotifyUser messages from a queue, as ws-notify does, instead of a WebSocket route.
 * Functions are configured as ws-notify's (arm64, 256 MB, Node 22, the same bundling).
 */
export class NaiveNotifyStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const table = new Table(this, 'Connections', {
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const notifyUserQueue = new Queue(this, 'NotifyUserQueue', { visibilityTimeout: Duration.seconds(180) });

    const environment = { TABLE_NAME: table.tableName };
    const connect = this.function('Connect', 'connect', environment);
    const disconnect = this.function('Disconnect', 'disconnect', environment);
    const api = new WebSocketApi(this, 'Api', {
      connectRouteOptions: { integration: new WebSocketLambdaIntegration('ConnectIntegration', connect) },
      disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', disconnect) },
    });
    const stage = new WebSocketStage(this, 'Stage', { webSocketApi: api, stageName: 'live', autoDeploy: true });
    const notify = this.function('Notify', 'notify', { ...environment, MANAGEMENT_API_ENDPOINT: stage.callbackUrl });
    notify.addEventSource(new SqsEventSource(notifyUserQueue, { batchSize: 10 }));

    table.grantWriteData(connect);
    table.grantWriteData(disconnect);
    table.grantReadWriteData(notify);
    stage.grantManagementApiAccess(notify);

    new CfnOutput(this, 'WebSocketUrl', { value: stage.url });
    new CfnOutput(this, 'NotifyUserQueueUrl', { value: notifyUserQueue.queueUrl });
    new CfnOutput(this, 'ConnectionsTableName', { value: table.tableName });
  }

  private function(id: string, handler: string, environment: Record<string, string>): NodejsFunction {
    return new NodejsFunction(this, `${id}Function`, {
      entry: path.join(__dirname, 'handlers', `${handler}.ts`),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment,
      bundling: { minify: true, keepNames: true, target: 'node22', externalModules: [], mainFields: ['module', 'main'] },
    });
  }
}
