// An HTTP events ingress of the shape the next issue adds to ws-notify: an HTTP API with Lambda
// proxy routes behind Lambda authorizers (simple responses and IAM policies), an IAM route, a
// payload 1.0 route, a named stage, and an enrichment function another function invokes; a WebSocket
// API whose handler is written as AWS's samples write it, and a function of each Node.js runtime. Run by
// local-http-api.test.ts through the local runtime, as its project's `cdk.json` app. It is a
// stack of its own rather than ws-notify's, so that the test synthesizes a few small functions
// instead of all of ws-notify's.
import * as path from 'node:path';
import { App, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, PayloadFormatVersion, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';

const app = new App();
const stack = new Stack(app, 'HttpIngress');

const fn = (id: string, entry: string, handler: string, props: NodejsFunctionProps = {}) =>
  new NodejsFunction(stack, id, {
    entry: path.join(__dirname, entry),
    handler,
    runtime: Runtime.NODEJS_22_X,
    // The SDK is bundled, as ws-notify's functions bundle theirs.
    bundling: { externalModules: [] },
    ...props,
  });

const echo = fn('Echo', 'handlers.ts', 'echo', { timeout: Duration.seconds(2) });
const enrich = fn('Enrich', 'handlers.ts', 'enrich');
const publishEnriched = fn('PublishEnriched', 'publish-enriched.ts', 'handler', { environment: { ENRICH_FUNCTION_ARN: enrich.functionArn } });
enrich.grantInvoke(publishEnriched);

// The local runtime serves one WebSocket API per stack, as ws-notify has; this one echoes each
// message back through the management API, as AWS's samples do (echo-to-self.ts).
const echoToSelf = fn('EchoToSelf', 'echo-to-self.ts', 'handler');
const webSocketApi = new WebSocketApi(stack, 'Live', { defaultRouteOptions: { integration: new WebSocketLambdaIntegration('LiveDefault', echoToSelf) } });
const liveStage = new WebSocketStage(stack, 'LiveStage', { webSocketApi, stageName: 'live', autoDeploy: true });
webSocketApi.grantManageConnections(echoToSelf);

// One function per Lambda Node.js runtime the local runtime runs, each reporting its Node.
const nodeVersions = [Runtime.NODEJS_20_X, Runtime.NODEJS_22_X].map((runtime) => fn(`NodeVersion${runtime.name.replace(/\D/g, '')}`, 'handlers.ts', 'nodeVersion', { runtime }));

const apiKeyAuthorizer = new HttpLambdaAuthorizer('ApiKeyAuthorizer', fn('AuthorizeApiKey', 'handlers.ts', 'authorizeApiKey'), {
  responseTypes: [HttpLambdaResponseType.SIMPLE],
  identitySource: ['$request.header.x-api-key'],
});
// The L2's defaults: payload 1.0, IAM-policy responses, the Authorization header as identity source.
const policyAuthorizer = new HttpLambdaAuthorizer('PolicyAuthorizer', fn('AuthorizePolicy', 'handlers.ts', 'authorizePolicy'));

const api = new HttpApi(stack, 'Events');
api.addRoutes({
  path: '/topics/{topic}/events',
  methods: [HttpMethod.POST],
  integration: new HttpLambdaIntegration('PublishIntegration', echo),
  authorizer: apiKeyAuthorizer,
});
api.addRoutes({ path: '/topics/{topic}/enriched', methods: [HttpMethod.POST], integration: new HttpLambdaIntegration('EnrichedIntegration', publishEnriched) });
api.addRoutes({ path: '/echo', methods: [HttpMethod.ANY], integration: new HttpLambdaIntegration('EchoIntegration', echo) });
api.addRoutes({
  path: '/slow',
  methods: [HttpMethod.GET],
  integration: new HttpLambdaIntegration('SlowIntegration', echo, { timeout: Duration.seconds(1) }),
});
api.addRoutes({
  path: '/legacy/{id}',
  methods: [HttpMethod.GET],
  integration: new HttpLambdaIntegration('LegacyIntegration', echo, { payloadFormatVersion: PayloadFormatVersion.VERSION_1_0 }),
  authorizer: policyAuthorizer,
});
api.addRoutes({
  path: '/admin/{proxy+}',
  methods: [HttpMethod.ANY],
  integration: new HttpLambdaIntegration('AdminIntegration', echo),
  authorizer: new HttpIamAuthorizer(),
});
const beta = new HttpStage(stack, 'Beta', { httpApi: api, stageName: 'beta', autoDeploy: true, stageVariables: { flavour: 'beta' } });
echo.addEnvironment('EVENTS_API_URL', api.apiEndpoint);

new CfnOutput(stack, 'EventsApiUrl', { value: api.url as string });
new CfnOutput(stack, 'EventsApiEndpoint', { value: api.apiEndpoint });
new CfnOutput(stack, 'EventsBetaUrl', { value: beta.url });
new CfnOutput(stack, 'EnrichFunctionName', { value: enrich.functionName });
new CfnOutput(stack, 'LiveUrl', { value: liveStage.url });
for (const nodeVersion of nodeVersions) new CfnOutput(stack, `${nodeVersion.node.id}FunctionName`, { value: nodeVersion.functionName });
