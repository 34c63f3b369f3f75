import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { newHandlerFunction } from './builders';
import type { WsNotifySettings } from './settings';

/**
 * The HTTP events ingress: CloudEvents posted to `POST /topics/{topic}/events` with a publish API key
 * (checked by its own authorizer, never cached), or to `POST /iam/topics/{topic}/events` signed with IAM.
 */
export class EventsIngress {
  public readonly eventsApi: HttpApi;
  public readonly eventsStage: HttpStage;
  public readonly authorizer: NodejsFunction;
  public readonly ingress: NodejsFunction;

  constructor(scope: Construct, settings: WsNotifySettings) {
    const { logRetention } = settings;
    const tenancy: Record<string, string> = settings.tenantClaim === undefined ? {} : { TENANT_CLAIM: settings.tenantClaim };
    this.authorizer = newHandlerFunction(scope, 'EventsAuthorizer', { handler: 'events-authorizer', logRetention, environment: tenancy });
    this.ingress = newHandlerFunction(scope, 'EventsIngress', {
      handler: 'events-ingress',
      logRetention,
      environment: {
        ...tenancy,
        ...(settings.eventsIamPrincipals !== undefined && { IAM_PRINCIPALS: JSON.stringify(settings.eventsIamPrincipals) }),
        PUBLIC_TOPICS: JSON.stringify(settings.publicTopics),
      },
    });
    this.eventsApi = new HttpApi(scope, 'EventsApi', { description: 'ws-notify: publish CloudEvents to topics', createDefaultStage: false });
    this.eventsStage = new HttpStage(scope, 'EventsStage', {
      httpApi: this.eventsApi,
      autoDeploy: true,
      throttle: settings.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(new LogGroup(scope, 'EventsAccessLog', { retention: logRetention, removalPolicy: settings.removalPolicy })),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            sourceIp: '$context.identity.sourceIp',
            requestTime: '$context.requestTimeEpoch',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const integration = new HttpLambdaIntegration('EventsIngressIntegration', this.ingress);
    this.eventsApi.addRoutes({
      path: '/topics/{topic}/events',
      methods: [HttpMethod.POST],
      integration,
      authorizer: new HttpLambdaAuthorizer('EventsAuthorizer', this.authorizer, {
        responseTypes: [HttpLambdaResponseType.SIMPLE],
        // A key may arrive in a header or the query string: no single identity source to pre-check.
        identitySource: [],
        // Not cached, so that a revoked key is refused at once.
        resultsCacheTtl: Duration.seconds(0),
      }),
    });
    this.eventsApi.addRoutes({
      path: '/iam/topics/{topic}/events',
      methods: [HttpMethod.POST],
      integration,
      authorizer: new HttpIamAuthorizer(),
    });
  }

  /** Where events are posted: `POST <eventsUrl>/{topic}/events`. */
  get eventsUrl(): string {
    return `${this.eventsApi.apiEndpoint}/topics`;
  }
}
