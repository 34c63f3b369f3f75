import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { nodeExecutableFor, UnsupportedRuntimeError } from '../lambda/node-runtimes';
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
  /** Lambda's runtime identifier, e.g. `nodejs22.x`: its Node.js major is the one that runs the function. */
  runtime: string;
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

export type PayloadFormatVersion = '1.0' | '2.0';

/** A Lambda REQUEST authorizer of an HTTP API. */
export interface HttpAuthorizerDefinition {
  functionName: string;
  payloadFormatVersion: PayloadFormatVersion;
  /** `{isAuthorized, context}` responses (payload 2.0 only) rather than IAM policies. */
  simpleResponses: boolean;
  /** e.g. `$request.header.x-api-key`; a request missing any of them is refused 401 unread. */
  identitySources: string[];
}

export type HttpRouteAuthorization =
  | { type: 'NONE' }
  /** Signature Version 4, which the runtime cannot verify: see apigateway/http-api.ts. */
  | { type: 'AWS_IAM' }
  | { type: 'CUSTOM'; authorizer: HttpAuthorizerDefinition };

export interface HttpRouteDefinition {
  /** `POST /topics/{topic}/events`, `ANY /{proxy+}` or `$default`. */
  routeKey: string;
  functionName: string;
  payloadFormatVersion: PayloadFormatVersion;
  /** How long API Gateway waits for the function before it answers 503 (`TimeoutInMillis`). */
  integrationTimeoutMs: number;
  authorization: HttpRouteAuthorization;
}

export interface HttpStageDefinition {
  /** `$default` is served at the root of the API's URL, any other stage under `/{name}`. */
  name: string;
  variables: Record<string, string>;
}

/** An API Gateway HTTP API (`ProtocolType: HTTP`) with Lambda proxy integrations. */
export interface HttpApiDefinition {
  logicalId: string;
  apiId: string;
  stages: HttpStageDefinition[];
  routes: HttpRouteDefinition[];
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
  /** Each served on a loopback port of its own (see `httpApiLogicalIds`). */
  httpApis: HttpApiDefinition[];
  eventSourceMappings: EventSourceMappingDefinition[];
  scheduledRules: ScheduledRuleDefinition[];
  /** What the template asks for that the runtime will not do, said once at start. */
  notRunLocally: string[];
  /** The stack's outputs, resolved to local endpoints. */
  outputs: Record<string, string>;
}

/**
 * Reads the functions, the WebSocket API, the HTTP APIs, the event-source mappings and the outputs
 * from the template; values naming an API's AWS endpoints are rewritten to where it is served
 * locally: the WebSocket API's to the gateway at `gatewayOrigin`, each HTTP API's to its origin in
 * `httpApiOrigins` (by logical id). An HTTP API given no origin (by a caller that only reads the
 * model) keeps its AWS URLs.
 */
export function describeLocalApp(
  stack: SynthesizedStack,
  context: ResolveContext,
  gatewayOrigin: URL,
  httpApiOrigins: ReadonlyMap<string, URL> = new Map(),
): LocalApp {
  const api = webSocketApi(stack, context);
  const notRunLocally: string[] = [];
  const httpApis = httpApiLogicalIds(stack).map((logicalId) => httpApi(stack, logicalId, context, notRunLocally));
  const localizers = [
    executeApiLocalizer(api.apiId, gatewayOrigin),
    ...httpApis.flatMap((definition) => {
      const origin = httpApiOrigins.get(definition.logicalId);
      return origin ? [executeApiLocalizer(definition.apiId, origin)] : [];
    }),
  ];
  const localize = (value: string) => localizers.reduce((localized, localizer) => localizer(localized), value);
  const localString = (value: unknown, where: string) => localize(resolveString(value, context, where));
  const functions = new Map<string, FunctionDefinition>();
  for (const [logicalId, resource] of resourcesOfType(stack, 'AWS::Lambda::Function')) {
    const definition = functionDefinition(stack, logicalId, resource, context, localString);
    functions.set(definition.name, definition);
    const runtimeProblem = unsupportedRuntimeOf(definition);
    if (runtimeProblem) notRunLocally.push(`function ${logicalId}: ${runtimeProblem} (its invocations fail)`);
  }
  return {
    stackName: stack.stackName,
    region: stack.region,
    functions,
    webSocketApi: api,
    httpApis,
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
  const code = (properties['Code'] ?? {}) as { S3Key?: unknown; ZipFile?: unknown };
  const codeDir =
    code.ZipFile !== undefined
      ? inlineCodeDirectory(stack, logicalId, resolveString(code.ZipFile, context, `${logicalId} Code.ZipFile`))
      : typeof code.S3Key === 'string'
        ? stack.assetDirectories.get(code.S3Key)
        : undefined;
  if (!codeDir) {
    throw new UnsupportedTemplateError(`function ${logicalId} has no file asset or inline code (image code is not run locally)`);
  }
  const variables = (properties['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return {
    logicalId,
    name: context.resources.get(logicalId)?.ref as string,
    codeDir,
    handler: String(properties['Handler'] ?? 'index.handler'),
    runtime: String(properties['Runtime'] ?? '(none)'),
    environment: Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, localString(value, `${logicalId} environment ${name}`)]),
    ),
    timeoutSeconds: Number(properties['Timeout'] ?? 3),
    memoryMb: Number(properties['MemorySize'] ?? 128),
  };
}

/** Why this machine cannot run the function's runtime, if it cannot. */
function unsupportedRuntimeOf(definition: FunctionDefinition): string | undefined {
  try {
    nodeExecutableFor(definition.runtime);
    return undefined;
  } catch (error) {
    if (error instanceof UnsupportedRuntimeError) return error.message;
    throw error;
  }
}

/**
 * Inline code (`Code.fromInline`, the template's `ZipFile`) staged as CloudFormation deploys it for
 * Node.js: a file `index.js`, CommonJS, alone in its package (so `Handler` is `index.<export>`).
 * Staged beside the synthesized app, which the runtime owns.
 */
function inlineCodeDirectory(stack: SynthesizedStack, logicalId: string, source: string): string {
  const directory = path.join(stack.assemblyDir, 'inline-code', logicalId);
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, 'index.js'), source);
  // An enclosing package.json of "type": "module" must not make it ESM: on Lambda it has none.
  writeFileSync(path.join(directory, 'package.json'), '{"type":"commonjs"}\n');
  return directory;
}

function webSocketApi(stack: SynthesizedStack, context: ResolveContext): WebSocketApiDefinition {
  const apis = resourcesOfType(stack, 'AWS::ApiGatewayV2::Api').filter(([, api]) => api.Properties?.['ProtocolType'] === 'WEBSOCKET');
  const [api, ...others] = apis;
  if (!api || others.length > 0) {
    throw new UnsupportedTemplateError(`the local runtime serves one WebSocket API per stack; this one has ${apis.length}`);
  }
  const [apiLogicalId, apiResource] = api;
  const ofThisApi = (type: string) => resourcesOfApi(stack, type, apiLogicalId);
  const [stage, ...otherStages] = ofThisApi('AWS::ApiGatewayV2::Stage');
  if (!stage || otherStages.length > 0) {
    throw new UnsupportedTemplateError(`the WebSocket API ${apiLogicalId} needs exactly one stage locally`);
  }
  const functionOf = (uri: unknown, where: string) => invokedFunctionName(resolveString(uri, context, where), where);
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

/** The template's HTTP APIs (`ProtocolType: HTTP`), by logical id: the runtime gives each a port before it reads the app. */
export function httpApiLogicalIds(stack: SynthesizedStack): string[] {
  return resourcesOfType(stack, 'AWS::ApiGatewayV2::Api')
    .filter(([, api]) => api.Properties?.['ProtocolType'] === 'HTTP')
    .map(([logicalId]) => logicalId);
}

/** API Gateway's wait for an HTTP API integration when the template sets none (also its maximum). */
const HTTP_INTEGRATION_TIMEOUT_MS = 30_000;

function httpApi(stack: SynthesizedStack, logicalId: string, context: ResolveContext, notRunLocally: string[]): HttpApiDefinition {
  const properties = stack.resources[logicalId]?.Properties ?? {};
  if (properties['CorsConfiguration'] !== undefined) {
    notRunLocally.push(`HTTP API ${logicalId}: its CORS configuration (no preflight answers or CORS headers locally)`);
  }
  if (properties['Body'] !== undefined || properties['BodyS3Location'] !== undefined) {
    notRunLocally.push(`HTTP API ${logicalId}: routes from an OpenAPI definition (only Route resources are served)`);
  }
  const ofThisApi = (type: string) => resourcesOfApi(stack, type, logicalId);
  const functionOf = (uri: unknown, where: string) => invokedFunctionName(resolveString(uri, context, where), where);
  const integrations = new Map(
    ofThisApi('AWS::ApiGatewayV2::Integration').map(([id, integration]) => {
      const integrationProperties = integration.Properties ?? {};
      if (integrationProperties['IntegrationType'] !== 'AWS_PROXY') {
        throw new UnsupportedTemplateError(`integration ${id}: only Lambda proxy (AWS_PROXY) integrations run locally`);
      }
      if (integrationProperties['RequestParameters'] !== undefined || integrationProperties['ResponseParameters'] !== undefined) {
        notRunLocally.push(`integration ${id}: parameter mapping`);
      }
      const target = {
        functionName: functionOf(integrationProperties['IntegrationUri'], `${id}.IntegrationUri`),
        payloadFormatVersion: payloadFormatVersion(integrationProperties['PayloadFormatVersion'], `${id}.PayloadFormatVersion`),
        integrationTimeoutMs: Number(integrationProperties['TimeoutInMillis'] ?? HTTP_INTEGRATION_TIMEOUT_MS),
      };
      return [id, target];
    }),
  );
  const authorizers = new Map(
    ofThisApi('AWS::ApiGatewayV2::Authorizer').map(([id, authorizer]) => {
      const authorizerProperties = authorizer.Properties ?? {};
      if (authorizerProperties['AuthorizerType'] !== 'REQUEST') {
        throw new UnsupportedTemplateError(`authorizer ${id}: only Lambda REQUEST authorizers run locally (JWT authorizers are not emulated)`);
      }
      const definition: HttpAuthorizerDefinition = {
        functionName: functionOf(authorizerProperties['AuthorizerUri'], `${id}.AuthorizerUri`),
        payloadFormatVersion: payloadFormatVersion(authorizerProperties['AuthorizerPayloadFormatVersion'], `${id}.AuthorizerPayloadFormatVersion`),
        simpleResponses: authorizerProperties['EnableSimpleResponses'] === true,
        identitySources: (resolve(authorizerProperties['IdentitySource'] ?? [], context) as unknown[]).map(String),
      };
      return [id, definition];
    }),
  );
  const routes = ofThisApi('AWS::ApiGatewayV2::Route').map(([id, route]): HttpRouteDefinition => {
    const routeProperties = route.Properties ?? {};
    const routeKey = resolveString(routeProperties['RouteKey'], context, `${id}.RouteKey`);
    const integrationId = resolveString(routeProperties['Target'], context, `${id}.Target`).replace(/^integrations\//, '');
    const integration = integrations.get(integrationId);
    if (!integration) throw new UnsupportedTemplateError(`route ${routeKey} targets ${integrationId}, which is not a Lambda integration`);
    return { routeKey, ...integration, authorization: httpRouteAuthorization(routeKey, routeProperties, authorizers) };
  });
  const stages = ofThisApi('AWS::ApiGatewayV2::Stage').map(([id, stage]) => ({
    name: resolveString(stage.Properties?.['StageName'], context, `${id}.StageName`),
    variables: resolve(stage.Properties?.['StageVariables'] ?? {}, context) as Record<string, string>,
  }));
  return { logicalId, apiId: context.resources.get(logicalId)?.ref as string, stages, routes };
}

function httpRouteAuthorization(
  routeKey: string,
  properties: Record<string, unknown>,
  authorizers: ReadonlyMap<string, HttpAuthorizerDefinition>,
): HttpRouteAuthorization {
  const type = properties['AuthorizationType'] ?? 'NONE';
  switch (type) {
    case 'NONE':
      return { type: 'NONE' };
    case 'AWS_IAM':
      return { type: 'AWS_IAM' };
    case 'CUSTOM': {
      const authorizer = authorizers.get(refId(properties['AuthorizerId']) ?? '');
      if (!authorizer) throw new UnsupportedTemplateError(`route ${routeKey}: its authorizer is not one of the API's Lambda authorizers`);
      return { type: 'CUSTOM', authorizer };
    }
    default:
      throw new UnsupportedTemplateError(`route ${routeKey}: ${String(type)} authorization is not emulated locally`);
  }
}

/** CloudFormation requires the version on HTTP API Lambda integrations and authorizers; there is no default to assume. */
function payloadFormatVersion(value: unknown, where: string): PayloadFormatVersion {
  if (value !== '1.0' && value !== '2.0') throw new UnsupportedTemplateError(`${where}: expected payload format 1.0 or 2.0, got ${JSON.stringify(value)}`);
  return value;
}

function resourcesOfApi(stack: SynthesizedStack, type: string, apiLogicalId: string): [string, TemplateResource][] {
  return resourcesOfType(stack, type).filter(([, resource]) => refId(resource.Properties?.['ApiId']) === apiLogicalId);
}

/**
 * The function an integration or authorizer invokes: its URI is the function's ARN (as `HttpLambdaIntegration`
 * writes it) or `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function arn}/invocations`.
 */
function invokedFunctionName(uri: string, where: string): string {
  const name = /:function:([^:/]+)(?::[^/]+)?(?:\/invocations)?$/.exec(uri)?.[1];
  if (!name) throw new UnsupportedTemplateError(`${where}: ${uri} does not invoke a Lambda function`);
  return name;
}

function refId(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && 'Ref' in value ? String(value.Ref) : undefined;
}

