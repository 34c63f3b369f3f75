// A two-function WebSocket app for dev-loop.test.ts, which copies this directory into a project
// of its own and edits the copy: a handler edit (handlers/greeting.ts, which only Echo's bundle
// includes) and an infrastructure edit (EDITION, here).
import * as path from 'node:path';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';

const app = new App();
const stack = new Stack(app, 'DevLoop');
const fn = (id: string, entry: string) =>
  new NodejsFunction(stack, id, { entry: path.join(__dirname, '..', 'handlers', entry), runtime: Runtime.NODEJS_22_X, environment: { EDITION: 'first' } });

const webSocketApi = new WebSocketApi(stack, 'Api');
webSocketApi.addRoute('$default', { integration: new WebSocketLambdaIntegration('EchoIntegration', fn('Echo', 'echo.ts')), returnResponse: true });
webSocketApi.addRoute('other', { integration: new WebSocketLambdaIntegration('OtherIntegration', fn('Other', 'other.ts')), returnResponse: true });
const stage = new WebSocketStage(stack, 'Stage', { webSocketApi, stageName: 'live', autoDeploy: true });
new CfnOutput(stack, 'WebSocketUrl', { value: stage.url });
