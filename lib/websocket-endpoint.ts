import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { addEnvironment, allow } from './builders';
import type { WsNotifySettings } from './settings';

/** The functions behind the routes every WebSocket API has, and the `$connect` authorizer. */
export interface WebSocketEndpointRoutes {
  readonly authorize: NodejsFunction;
  readonly connect: NodejsFunction;
  readonly disconnect: NodejsFunction;
  readonly default: NodejsFunction;
}

/**
 * The WebSocket API clients connect to (routes selected on `$request.body.action`), its stage with
 * an access log, and the management API (`@connections`) that posts to and closes connections.
 */
export class WebSocketEndpoint {
  public readonly webSocketApi: WebSocketApi;
  public readonly stage: WebSocketStage;

  constructor(
    private readonly scope: Construct,
    settings: WsNotifySettings,
    routes: WebSocketEndpointRoutes,
  ) {
    this.webSocketApi = new WebSocketApi(scope, 'Api', {
      description: 'ws-notify: push notifications to WebSocket clients',
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration('ConnectIntegration', routes.connect),
        authorizer: new WebSocketLambdaAuthorizer('Authorizer', routes.authorize, {
          // Empty on purpose: API Gateway answers 401 without calling the authorizer when any listed
          // source is missing, and a token may arrive in a header, the query string or a subprotocol.
          identitySource: [],
        }),
      },
      disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', routes.disconnect) },
      defaultRouteOptions: {
        integration: new WebSocketLambdaIntegration('DefaultIntegration', routes.default),
        returnResponse: true,
      },
    });

    const accessLog = new LogGroup(scope, 'AccessLog', { retention: settings.logRetention, removalPolicy: settings.removalPolicy });
    this.stage = new WebSocketStage(scope, 'Stage', {
      webSocketApi: this.webSocketApi,
      stageName: settings.stageName,
      autoDeploy: true,
      throttle: settings.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLog),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            status: '$context.status',
            sourceIp: '$context.identity.sourceIp',
            requestTime: '$context.requestTimeEpoch',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integration.error',
          }),
        ),
      },
    });
    if (settings.configureApiGatewayAccountLogging) {
      this.stage.node.addDependency(apiGatewayAccountLogging(scope));
    }
  }

  /** A route whose function's reply goes back to the client (`<RouteKey>Integration`). */
  addRoute(routeKey: string, fn: NodejsFunction): void {
    const id = routeKey[0]!.toUpperCase() + routeKey.slice(1);
    this.webSocketApi.addRoute(routeKey, { integration: new WebSocketLambdaIntegration(`${id}Integration`, fn), returnResponse: true });
  }

  /** PostToConnection on this stage (MANAGEMENT_API_ENDPOINT). */
  grantPost(fn: NodejsFunction): void {
    this.grantManageConnections(fn, ['POST']);
  }

  /** PostToConnection and DeleteConnection (closing a connection) on this stage. */
  grantPostAndClose(fn: NodejsFunction): void {
    this.grantManageConnections(fn, ['POST', 'DELETE']);
  }

  /** One management API verb (POST: PostToConnection, DELETE: DeleteConnection), on this API's stage only. */
  manageConnectionsArn(method: 'POST' | 'DELETE'): string {
    return Stack.of(this.scope).formatArn({
      service: 'execute-api',
      resource: this.webSocketApi.apiId,
      resourceName: `${this.stage.stageName}/${method}/@connections/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  private grantManageConnections(fn: NodejsFunction, methods: ('POST' | 'DELETE')[]): void {
    addEnvironment(fn, { MANAGEMENT_API_ENDPOINT: this.stage.callbackUrl });
    allow(fn, ['execute-api:ManageConnections'], methods.map((method) => this.manageConnectionsArn(method)));
  }
}

function apiGatewayAccountLogging(scope: Construct): CfnAccount {
  // The setting is the account's, not this stack's: every API in the region logs through whichever
  // role it names last. Both are retained (as RestApi's cloudWatchRoleRemovalPolicy does by
  // default), so deleting this stack, or one of two instances that each set it, never leaves the
  // account naming a deleted role; the role left behind costs nothing.
  const role = new Role(scope, 'ApiGatewayCloudWatchRole', {
    assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
    managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
  });
  role.applyRemovalPolicy(RemovalPolicy.RETAIN);
  // No L2 sets the account's CloudWatch role on its own (RestApi does it only for REST APIs).
  const account = new CfnAccount(scope, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
  account.applyRemovalPolicy(RemovalPolicy.RETAIN);
  return account;
}
