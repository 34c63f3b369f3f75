import { resourcesOfType, type SynthesizedStack, type TemplateResource } from './cloud-assembly';
import { resolve, type ResolveContext, resolveString, UnsupportedTemplateError } from './intrinsics';

/** A Lambda function as the template defines it, its environment resolved to local resources. */
export interface FunctionDefinition {
  logicalId: string;
  name: string;
  /** The synthesized asset directory: the same bundle that deploys. */
  codeDir: string;
  /** `<file>.<export>`, e.g. `index.handler`. */
  handler: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
}

export interface AuthorizerDefinition {
  functionName: string;
  /** e.g. `route.request.header.Authorization`; a request missing any of them is refused 401 unread. */
  identitySources: string[];
}

export interface RouteDefinition {
  routeKey: string;
  functionName: string;
  /** With a route response, the integration's `body` is sent back to the client. */
  hasRouteResponse: boolean;
  authorizer?: AuthorizerDefinition;
}

export interface WebSocketApiDefinition {
  apiId: string;
  stageName: string;
  routeSelectionExpression: string;
  routes: Map<string, RouteDefinition>;
}

export interface EventSourceMappingDefinition {
  logicalId: string;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  batchSize: number;
  batchingWindowSeconds: number;
  reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency, if the template caps it. */
  maximumConcurrency?: number;
}

/** An EventBridge rule that invokes functions on a `rate(...)` schedule. */
export interface ScheduledRuleDefinition {
  logicalId: string;
  ruleArn: string;
  intervalSeconds: number;
  targets: { functionName: string; input?: string }[];
}

export interface LocalApp {
  stackName: string;
  region: string;
  functions: Map<string, FunctionDefinition>;
  webSocketApi: WebSocketApiDefinition;
  eventSourceMappings: EventSourceMappingDefinition[];
  scheduledRules: ScheduledRuleDefinition[];
  /** What the template asks for that the runtime will not do, said once at start. */
  notRunLocally: string[];
  /** The stack's outputs, resolved to local endpoints. */
  outputs: Record<string, string>;
}

/**
 * Reads the functions, the WebSocket API, the event-source mappings and the outputs from the
 * template; values naming the API's AWS endpoints are rewritten to the gateway at `gatewayOrigin`.
 */
export function describeLocalApp(stack: SynthesizedStack, context: ResolveContext, gatewayOrigin: URL): LocalApp {
  const api = webSocketApi(stack, context);
  const localize = executeApiLocalizer(api.apiId, gatewayOrigin);
  const localString = (value: unknown, where: string) => localize(resolveString(value, context, where));
  const functions = new Map<string, FunctionDefinition>();
  for (const [logicalId, resource] of resourcesOfType(stack, 'AWS::Lambda::Function')) {
    const definition = functionDefinition(stack, logicalId, resource, context, localString);
    functions.set(definition.name, definition);
  }
  const notRunLocally: string[] = [];
  return {
    stackName: stack.stackName,
    region: stack.region,
    functions,
    webSocketApi: api,
    eventSourceMappings: eventSourceMappings(stack, context, functions),
    scheduledRules: scheduledRules(stack, context, functions, notRunLocally),
    notRunLocally,
    outputs: Object.fromEntries(
      Object.entries(stack.outputs).map(([key, output]) => [key, localString(output.Value, `output ${key}`)]),
    ),
  };
}

/**
 * `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` (and its `wss://` twin) become the
 * local gateway's URLs; every other value is left as it is.
 */
export function executeApiLocalizer(apiId: string, gatewayOrigin: URL): (value: string) => string {
  const pattern = new RegExp(`^(https|wss)://${apiId}\\.execute-api\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?(?=/|$)`);
  const http = gatewayOrigin.origin;
  const ws = http.replace(/^http/, 'ws');
  return (value) => value.replace(pattern, (_, scheme: string) => (scheme === 'wss' ? ws : http));
}

function functionDefinition(
  stack: SynthesizedStack,
  logicalId: string,
  resource: TemplateResource,
  context: ResolveContext,
  localString: (value: unknown, where: string) => string,
): FunctionDefinition {
  const properties = resource.Properties ?? {};
  const objectKey = (properties['Code'] as { S3Key?: unknown } | undefined)?.S3Key;
  const codeDir = typeof objectKey === 'string' ? stack.assetDirectories.get(objectKey) : undefined;
  if (!codeDir) {
    throw new UnsupportedTemplateError(`function ${logicalId} has no file asset for its code (inline and image code are not run locally)`);
  }
  const variables = (properties['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return {
    logicalId,
    name: context.resources.get(logicalId)?.ref as string,
    codeDir,
    handler: String(properties['Handler'] ?? 'index.handler'),
    environment: Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, localString(value, `${logicalId} environment ${name}`)]),
    ),
    timeoutSeconds: Number(properties['Timeout'] ?? 3),
    memoryMb: Number(properties['MemorySize'] ?? 128),
  };
}

function webSocketApi(stack: SynthesizedStack, context: ResolveContext): WebSocketApiDefinition {
  const apis = resourcesOfType(stack, 'AWS::ApiGatewayV2::Api').filter(([, api]) => api.Properties?.['ProtocolType'] === 'WEBSOCKET');
  const [api, ...others] = apis;
  if (!api || others.length > 0) {
    throw new UnsupportedTemplateError(`the local runtime serves one WebSocket API per stack; this one has ${apis.length}`);
  }
  const [apiLogicalId, apiResource] = api;
  const ofThisApi = (type: string) =>
    resourcesOfType(stack, type).filter(([, resource]) => refId(resource.Properties?.['ApiId']) === apiLogicalId);
  const [stage, ...otherStages] = ofThisApi('AWS::ApiGatewayV2::Stage');
  if (!stage || otherStages.length > 0) {
    throw new UnsupportedTemplateError(`the WebSocket API ${apiLogicalId} needs exactly one stage locally`);
  }
  const functionOf = (uri: unknown, where: string) => functionNameOfInvocationUri(resolveString(uri, context, where), where);
  const integrations = new Map(
    ofThisApi('AWS::ApiGatewayV2::Integration').map(([logicalId, integration]) => {
      if (integration.Properties?.['IntegrationType'] !== 'AWS_PROXY') {
        throw new UnsupportedTemplateError(`integration ${logicalId}: only Lambda proxy (AWS_PROXY) integrations run locally`);
      }
      return [logicalId, functionOf(integration.Properties['IntegrationUri'], `${logicalId}.IntegrationUri`)];
    }),
  );
  const authorizers = new Map(
    ofThisApi('AWS::ApiGatewayV2::Authorizer').map(([logicalId, authorizer]) => {
      if (authorizer.Properties?.['AuthorizerType'] !== 'REQUEST') {
        throw new UnsupportedTemplateError(`authorizer ${logicalId}: only Lambda REQUEST authorizers run locally`);
      }
      const definition: AuthorizerDefinition = {
        functionName: functionOf(authorizer.Properties['AuthorizerUri'], `${logicalId}.AuthorizerUri`),
        identitySources: (resolve(authorizer.Properties['IdentitySource'] ?? [], context) as string[]).map(String),
      };
      return [logicalId, definition];
    }),
  );
  const withResponse = new Set(
    ofThisApi('AWS::ApiGatewayV2::RouteResponse').map(([, response]) => refId(response.Properties?.['RouteId'])),
  );
  const routes = new Map<string, RouteDefinition>();
  for (const [logicalId, route] of ofThisApi('AWS::ApiGatewayV2::Route')) {
    const properties = route.Properties ?? {};
    const routeKey = String(properties['RouteKey']);
    const integrationId = resolveString(properties['Target'], context, `${logicalId}.Target`).replace(/^integrations\//, '');
    const functionName = integrations.get(integrationId);
    if (!functionName) throw new UnsupportedTemplateError(`route ${routeKey} targets ${integrationId}, which is not a Lambda integration`);
    const authorizer = properties['AuthorizationType'] === 'CUSTOM' ? authorizers.get(refId(properties['AuthorizerId']) ?? '') : undefined;
    if (properties['AuthorizationType'] === 'AWS_IAM') {
      throw new UnsupportedTemplateError(`route ${routeKey}: IAM authorization is not emulated locally`);
    }
    routes.set(routeKey, { routeKey, functionName, hasRouteResponse: withResponse.has(logicalId), ...(authorizer && { authorizer }) });
  }
  return {
    apiId: context.resources.get(apiLogicalId)?.ref as string,
    stageName: resolveString(stage[1].Properties?.['StageName'], context, `${stage[0]}.StageName`),
    routeSelectionExpression: String(apiResource.Properties?.['RouteSelectionExpression'] ?? '$request.body.action'),
    routes,
  };
}

function eventSourceMappings(
  stack: SynthesizedStack,
  context: ResolveContext,
  functions: Map<string, FunctionDefinition>,
): EventSourceMappingDefinition[] {
  const queuesByArn = new Map(
    resourcesOfType(stack, 'AWS::SQS::Queue').map(([logicalId]) => {
      const queue = context.resources.get(logicalId);
      return [queue?.attributes['Arn'], queue?.ref as string];
    }),
  );
  return resourcesOfType(stack, 'AWS::Lambda::EventSourceMapping')
    .filter(([, mapping]) => mapping.Properties?.['Enabled'] !== false)
    .map(([logicalId, mapping]) => {
      const properties = mapping.Properties ?? {};
      const queueArn = resolveString(properties['EventSourceArn'], context, `${logicalId}.EventSourceArn`);
      const queueUrl = queuesByArn.get(queueArn);
      if (!queueUrl) throw new UnsupportedTemplateError(`event source ${logicalId}: only this stack's SQS queues are polled locally`);
      const functionName = resolveString(properties['FunctionName'], context, `${logicalId}.FunctionName`).replace(/^arn:.*:function:/, '');
      if (!functions.has(functionName)) throw new UnsupportedTemplateError(`event source ${logicalId} names unknown function ${functionName}`);
      const maximumConcurrency = (properties['ScalingConfig'] as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency;
      return {
        logicalId,
        queueUrl,
        queueArn,
        functionName,
        batchSize: Number(properties['BatchSize'] ?? 10),
        batchingWindowSeconds: Number(properties['MaximumBatchingWindowInSeconds'] ?? 0),
        reportBatchItemFailures: ((properties['FunctionResponseTypes'] as string[] | undefined) ?? []).includes('ReportBatchItemFailures'),
        ...(maximumConcurrency !== undefined && { maximumConcurrency }),
      };
    });
}

/** The seconds of a `rate(N unit)` schedule expression, or undefined for any other (`cron(...)`). */
export function rateSeconds(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return undefined;
  const unit = { minute: 60, hour: 3600, day: 86400 }[(match[2] as string).replace(/s$/, '') as 'minute' | 'hour' | 'day'];
  return Number(match[1]) * unit;
}

function scheduledRules(
  stack: SynthesizedStack,
  context: ResolveContext,
  functions: Map<string, FunctionDefinition>,
  notRunLocally: string[],
): ScheduledRuleDefinition[] {
  return resourcesOfType(stack, 'AWS::Events::Rule').flatMap(([logicalId, rule]) => {
    const properties = rule.Properties ?? {};
    const expression = properties['ScheduleExpression'];
    if (typeof expression !== 'string' || properties['State'] === 'DISABLED') return [];
    const intervalSeconds = rateSeconds(expression);
    if (intervalSeconds === undefined) {
      notRunLocally.push(`rule ${logicalId}: ${expression} (only rate() schedules run locally)`);
      return [];
    }
    const targets = ((properties['Targets'] as { Arn: unknown; Input?: unknown }[] | undefined) ?? []).flatMap((target) => {
      const functionName = /:function:([^:/]+)$/.exec(resolveString(target.Arn, context, `${logicalId} target`))?.[1];
      if (functionName === undefined || !functions.has(functionName)) {
        notRunLocally.push(`rule ${logicalId}: a target that is not one of the stack's functions`);
        return [];
      }
      return [{ functionName, ...(typeof target.Input === 'string' && { input: target.Input }) }];
    });
    const ruleArn = `arn:aws:events:${context.region}:${context.accountId}:rule/${context.resources.get(logicalId)?.ref ?? logicalId}`;
    return [{ logicalId, ruleArn, intervalSeconds, targets }];
  });
}

/** `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function arn}/invocations` → the function's name. */
function functionNameOfInvocationUri(uri: string, where: string): string {
  const name = /:function:([^:/]+)(?::[^/]+)?\/invocations$/.exec(uri)?.[1];
  if (!name) throw new UnsupportedTemplateError(`${where}: ${uri} does not invoke a Lambda function`);
  return name;
}

function refId(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && 'Ref' in value ? String(value.Ref) : undefined;
}

