// The conformance suite's CDK app (run by test/conformance/websocket.test.ts through the local
// runtime): a WebSocket API whose handlers (handlers/*.js) are written the way AWS's developer
// guide and samples write them — plain CommonJS, callbacks and `context.succeed`, no bundling — so
// that the suite shows they run locally unchanged. One app for every case, so the suite starts one
// runtime.
import * as path from 'node:path';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';

const app = new App();
const stack = new Stack(app, 'Conformance');

const code = Code.fromAsset(path.join(__dirname, 'handlers'));
const fn = (id: string, handler: string) => new LambdaFunction(stack, id, { code, handler, runtime: Runtime.NODEJS_22_X });

const api = new WebSocketApi(stack, 'Api', {
  connectRouteOptions: {
    integration: new WebSocketLambdaIntegration('ConnectIntegration', fn('ConnectFunction', 'connect.handler')),
    // The identity sources of the developer guide's WebSocket authorizer example.
    authorizer: new WebSocketLambdaAuthorizer('Authorizer', fn('AuthorizerFunction', 'authorizer.handler'), {
      identitySource: ['route.request.header.HeaderAuth1', 'route.request.querystring.QueryString1'],
    }),
  },
  disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', fn('DisconnectFunction', 'disconnect.handler')) },
  // Two-way: the integration's body goes back to the client.
  defaultRouteOptions: { integration: new WebSocketLambdaIntegration('DefaultIntegration', fn('DefaultFunction', 'default.handler')), returnResponse: true },
});
api.addRoute('echo', { integration: new WebSocketLambdaIntegration('EchoIntegration', fn('EchoFunction', 'echo.handler')), returnResponse: true });
// One-way, as the chat sample's sendmessage: a failure still reaches the client as an error frame.
api.addRoute('boom', { integration: new WebSocketLambdaIntegration('BoomIntegration', fn('BoomFunction', 'boom.handler')) });
api.addRoute('fail', { integration: new WebSocketLambdaIntegration('FailIntegration', fn('FailFunction', 'fail.handler')), returnResponse: true });
// One-way; it answers through the management API, at the endpoint its event names.
api.addRoute('postback', { integration: new WebSocketLambdaIntegration('PostbackIntegration', fn('PostbackFunction', 'postback.handler')) });
const stage = new WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: 'conformance', autoDeploy: true });

new CfnOutput(stack, 'WebSocketUrl', { value: stage.url });
