#!/usr/bin/env node
// AWS's simple WebSocket chat (aws-samples/simple-websockets-chat-app) as a CDK app: its SAM
// template's resources with the CDK's L2 constructs, its three handlers as they are.
import * as path from 'node:path';
import { App, CfnOutput, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The chat's stack; exported for the tests. */
export function buildApp(app: App): Stack {
  const stack = new Stack(app, 'SimpleChat');
  const table = new Table(stack, 'ConnectionsTable', {
    partitionKey: { name: 'connectionId', type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const handler = (name: string) => {
    const fn = new NodejsFunction(stack, name, {
      entry: path.join(__dirname, '..', name.toLowerCase(), 'app.js'),
      // The sample's nodejs20.x is deprecated; 22 is the newest runtime ws-notify runs. Its AWS SDK v3 is
      // what the handlers import: NodejsFunction leaves @aws-sdk/* out of the bundle, as the sample ships none.
      runtime: Runtime.NODEJS_22_X,
      memorySize: 256,
      environment: { TABLE_NAME: table.tableName },
    });
    table.grantReadWriteData(fn);
    return fn;
  };
  const [onConnect, onDisconnect, sendMessage] = [handler('OnConnect'), handler('OnDisconnect'), handler('SendMessage')];

  const api = new WebSocketApi(stack, 'SimpleChatWebSocket', {
    routeSelectionExpression: '$request.body.action',
    connectRouteOptions: { integration: new WebSocketLambdaIntegration('ConnectInteg', onConnect) },
    disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectInteg', onDisconnect) },
  });
  api.addRoute('sendmessage', { integration: new WebSocketLambdaIntegration('SendInteg', sendMessage) });
  const stage = new WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: 'Prod', autoDeploy: true });
  api.grantManageConnections(sendMessage);

  new CfnOutput(stack, 'WebSocketURI', { value: stage.url, description: 'The WSS Protocol URI to connect to' });
  new CfnOutput(stack, 'ConnectionsTableName', { value: table.tableName });
  return stack;
}

if (require.main === module) buildApp(new App());
