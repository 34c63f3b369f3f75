import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod, type IHttpRouteAuthorizer, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import WebSocket from 'ws';
import { enrich } from '../../lambdas/core/enrichment';
import { InvalidMessageError } from '../../lambdas/core/messages';
import { describeLocalApp } from '../../local/cloudformation/app-model';
import { readSynthesizedStack } from '../../local/cloudformation/cloud-assembly';
import { provision } from '../../local/cloudformation/provision';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime';
import { eventually, PROJECT_DIR } from '../support/local-runtime';

let projectDir: string;
let runtime: LocalRuntime;
let lambda: LambdaClient;
const functionLines: { functionName: string; line: string }[] = [];

/**
 * A project whose `cdk.json` runs the test's own app (test/support/http-api-app) with this
 * project's context. It lives under `.local/` because NodejsFunction looks for the lock file from
 * the working directory up.
 */
function writeProject(): string {
  mkdirSync(path.join(PROJECT_DIR, '.local'), { recursive: true });
  const dir = mkdtempSync(path.join(PROJECT_DIR, '.local', 'http-api-test-'));
  const config = JSON.parse(readFileSync(path.join(PROJECT_DIR, 'cdk.json'), 'utf8')) as Record<string, unknown>;
  const tsx = path.join(PROJECT_DIR, 'node_modules', '.bin', 'tsx');
  const app = path.join(PROJECT_DIR, 'test', 'support', 'http-api-app', 'app.ts');
  writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ ...config, app: `"${tsx}" "${app}"` }));
  return dir;
}

beforeAll(async () => {
  projectDir = writeProject();
  runtime = await startLocalRuntime({
    port: 0,
    projectDir,
    stateDir: path.join(projectDir, 'state'),
    functionLog: (functionName, line) => functionLines.push({ functionName, line }),
  });
  lambda = new LambdaClient({ endpoint: runtime.url, region: runtime.outputs.Region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}, 120_000);

afterAll(async () => {
  lambda?.destroy();
  await runtime?.stop();
  rmSync(projectDir, { recursive: true, force: true });
}, 30_000);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body as JSON: API Gateway's errors, or the test functions' replies (read untyped, as events are). */
  json(): any;
}

/** A request to the Events HTTP API, through node:http so that headers can repeat (`{ 'x-custom': ['one', 'two'] }`). */
function send(method: string, pathAndQuery: string, options: { headers?: OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<Reply> {
  const url = new URL(pathAndQuery, runtime.outputs['EventsApiUrl']);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method, headers: { 'user-agent': 'ws-notify-test', ...options.headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const linesOf = (logicalIdPart: string) =>
  functionLines.filter(({ functionName }) => functionName.includes(logicalIdPart)).map(({ line }) => line);

describe('an HTTP API route with a Lambda proxy integration (payload 2.0)', () => {
  it('sends the function a 2.0 event: path parameters, query string, lower-cased headers, cookies, body and request context', async () => {
    const reply = await send('POST', '/topics/news%20desk/events?tag=a&tag=b&q=x%20y', {
      headers: { 'X-Api-Key': 'good-key', 'X-Custom': ['one', 'two'], Cookie: 'session=abc; theme=dark', 'Content-Type': 'application/json' },
      body: '{"title":"hello"}',
    });

    expect(reply.status).toBe(200);
    const { event } = reply.json();
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /topics/{topic}/events',
      rawPath: '/topics/news%20desk/events',
      rawQueryString: 'tag=a&tag=b&q=x%20y',
      cookies: ['session=abc', 'theme=dark'],
      queryStringParameters: { tag: 'a,b', q: 'x y' },
      pathParameters: { topic: 'news desk' },
      body: '{"title":"hello"}',
      isBase64Encoded: false,
    });
    expect(event.headers).toMatchObject({ 'x-api-key': 'good-key', 'x-custom': 'one,two', 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' });
    expect(Object.keys(event.headers).filter((name) => name !== name.toLowerCase() || name === 'cookie')).toEqual([]);
    expect(event.requestContext).toEqual({
      accountId: '000000000000',
      apiId: expect.stringMatching(/^[a-z]{10}$/),
      authorizer: { lambda: { tenant: 'acme', scopes: ['publish'] } },
      domainName: new URL(runtime.outputs['EventsApiUrl'] as string).host,
      domainPrefix: event.requestContext.apiId,
      http: { method: 'POST', path: '/topics/news%20desk/events', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'ws-notify-test' },
      requestId: reply.headers['apigw-requestid'],
      routeKey: 'POST /topics/{topic}/events',
      stage: '$default',
      time: expect.stringMatching(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/),
      timeEpoch: expect.any(Number),
    });
  });

  it('base64-encodes a body whose content type is not text, and passes a text body as it is', async () => {
    const binary = await send('POST', '/echo', { headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 159, 255]) });
    const text = await send('POST', '/echo', { headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'héllo' });

    expect(binary.json().event).toMatchObject({ body: Buffer.from([0, 159, 255]).toString('base64'), isBase64Encoded: true });
    expect(text.json().event).toMatchObject({ body: 'héllo', isBase64Encoded: false });
  });

  it('answers with a result that has a statusCode: its headers, its cookies as set-cookie headers, its base64 body as bytes', async () => {
    const reply = await send('GET', '/echo?respond=structured');

    expect(reply.status).toBe(201);
    expect(reply.headers).toMatchObject({ 'x-echo': 'yes', 'x-count': '3', 'set-cookie': ['session=abc; Path=/', 'theme=dark'] });
    expect([...reply.body]).toEqual([0, 1, 2, 255]);
  });

  it('answers a result without a statusCode as a 200 JSON body, a string as it is', async () => {
    const reply = await send('GET', '/echo?respond=text');

    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body.toString()).toBe('plain words');
  });

  it('answers 404 {"message":"Not Found"} when no route matches the path and method', async () => {
    const unknownPath = await send('GET', '/nowhere');
    const otherMethod = await send('GET', '/topics/news/events');

    expect([unknownPath.status, unknownPath.json()]).toEqual([404, { message: 'Not Found' }]);
    expect([otherMethod.status, otherMethod.json()]).toEqual([404, { message: 'Not Found' }]);
  });

  it('answers 500 {"message":"Internal Server Error"} when the function throws or runs out of time', async () => {
    const thrown = await send('GET', '/echo?respond=throw');
    // Echo's timeout is 2 s.
    const timedOut = await send('GET', '/echo?respond=sleep&ms=2500');

    expect([thrown.status, thrown.json()]).toEqual([500, { message: 'Internal Server Error' }]);
    expect([timedOut.status, timedOut.json()]).toEqual([500, { message: 'Internal Server Error' }]);
  });

  it('answers 503 {"message":"Service Unavailable"} when the integration times out before the function ends', async () => {
    // The route's integration timeout is 1 s.
    const reply = await send('GET', '/slow?respond=sleep&ms=1500');

    expect([reply.status, reply.json()]).toEqual([503, { message: 'Service Unavailable' }]);
  });

  it('answers 413 for a payload over 10 MB', async () => {
    const reply = await send('POST', '/echo', { headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(10 * 1024 * 1024 + 1, 'a') });

    expect([reply.status, reply.json()]).toEqual([413, { message: 'Request Entity Too Large' }]);
  });

  it('serves a named stage under its path, with the stage in rawPath and its stage variables', async () => {
    const { event } = (await send('GET', '/beta/echo')).json();

    expect(event).toMatchObject({ rawPath: '/beta/echo', routeKey: 'ANY /echo', stageVariables: { flavour: 'beta' }, requestContext: { stage: 'beta' } });
  });
});

describe('Lambda authorizers', () => {
  it('refuses 401 {"message":"Unauthorized"} without calling the authorizer when an identity source is missing', async () => {
    const before = linesOf('AuthorizeApiKey').length;
    const marker = `marker-${randomUUID()}`;

    const missing = await send('POST', '/topics/news/events', { body: '{}' });
    await send('POST', '/topics/news/events', { headers: { 'x-api-key': marker }, body: '{}' });
    await eventually(async () => (linesOf('AuthorizeApiKey').some((line) => line.includes(marker)) ? true : undefined), 'the marked authorizer call');

    expect([missing.status, missing.json()]).toEqual([401, { message: 'Unauthorized' }]);
    expect(linesOf('AuthorizeApiKey').slice(before)).toEqual([`authorizing POST /topics/{topic}/events for ${marker}`]);
  });

  it('refuses 403 {"message":"Forbidden"} when a simple-response authorizer answers isAuthorized: false', async () => {
    const reply = await send('POST', '/topics/news/events', { headers: { 'x-api-key': 'wrong-key' }, body: '{}' });

    expect([reply.status, reply.json()]).toEqual([403, { message: 'Forbidden' }]);
  });

  it('refuses 403 when an IAM-policy authorizer (payload 1.0) denies the route', async () => {
    const reply = await send('GET', '/legacy/7', { headers: { authorization: 'Bearer deny' } });

    expect([reply.status, reply.json()]).toEqual([403, { message: 'Forbidden' }]);
  });

  it("passes an allowing policy's principal and context to a payload 1.0 integration, and maps its multi-value headers", async () => {
    const reply = await send('GET', '/legacy/7?page=2', { headers: { authorization: 'Bearer allow' } });

    expect(reply.status).toBe(200);
    expect(reply.headers['x-seen']).toBe('one, two');
    const { event } = reply.json();
    expect(event).toMatchObject({
      version: '1.0',
      resource: '/legacy/{id}',
      path: '/legacy/7',
      httpMethod: 'GET',
      pathParameters: { id: '7' },
      queryStringParameters: { page: '2' },
      multiValueQueryStringParameters: { page: ['2'] },
      headers: { authorization: 'Bearer allow' },
      body: null,
      isBase64Encoded: false,
      requestContext: { authorizer: { plan: 'gold', principalId: 'user-7', integrationLatency: expect.any(Number) }, stage: '$default' },
    });
  });
});

describe('IAM authorization (AWS_IAM), without IAM locally', () => {
  it('refuses 403 {"message":"Forbidden"} a request that is not signed with Signature Version 4', async () => {
    const reply = await send('GET', '/admin/users/1', { headers: { authorization: 'Bearer something' } });

    expect([reply.status, reply.json()]).toEqual([403, { message: 'Forbidden' }]);
  });

  it('lets a SigV4-signed request through without checking the signature, and names its access key', async () => {
    const authorization =
      'AWS4-HMAC-SHA256 Credential=AKIDLOCALEXAMPLE/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000';
    const reply = await send('DELETE', '/admin/users/1', { headers: { authorization } });

    expect(reply.status).toBe(200);
    expect(reply.json().event).toMatchObject({
      routeKey: 'ANY /admin/{proxy+}',
      pathParameters: { proxy: 'users/1' },
      requestContext: { authorizer: { iam: { accessKey: 'AKIDLOCALEXAMPLE', accountId: '000000000000' } }, http: { method: 'DELETE' } },
    });
  });
});

describe('web pages: DNS rebinding and other origins (docs/security.md, "The local runtime")', () => {
  const port = () => new URL(runtime.outputs['EventsApiUrl'] as string).port;

  it("refuses a request whose Host is not a loopback name with the API's port: 403, on an open route and an IAM one", async () => {
    for (const host of [`attacker.example:${port()}`, 'attacker.example', `127.0.0.1:${Number(port()) + 1}`]) {
      const reply = await send('POST', '/echo', { headers: { host, 'content-type': 'text/plain' }, body: 'forged' });
      expect([host, reply.status, reply.json().message]).toEqual([host, 403, expect.stringContaining(`Host "${host}" is refused`)]);
    }
    // A signature, taken at its word locally, does not stand in for the Host.
    const signed = { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0' };
    const iam = await send('DELETE', '/admin/users/1', { headers: { ...signed, host: `attacker.example:${port()}` } });
    expect(iam.status).toBe(403);
  });

  it('serves localhost and 127.0.0.1 with its port, and a page of any origin, as API Gateway does (CORS only decides what it may read)', async () => {
    for (const headers of [{ host: `localhost:${port()}` }, { host: `127.0.0.1:${port()}`, origin: 'https://app.example' }]) {
      const reply = await send('POST', '/echo', { headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' });
      expect([headers, reply.status, reply.json().event.body]).toEqual([headers, 200, 'hello']);
    }
  });
});

describe("the HTTP API's URLs", () => {
  it('rewrites its execute-api URLs in the outputs and in environments to its own local port', async () => {
    const endpoint = runtime.outputs['EventsApiEndpoint'] as string;
    const { eventsApiUrl } = (await send('GET', '/echo?respond=env')).json();

    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoint).not.toBe(runtime.url);
    expect(runtime.outputs).toMatchObject({ EventsApiUrl: `${endpoint}/`, EventsBetaUrl: `${endpoint}/beta` });
    expect(eventsApiUrl).toBe(endpoint);
  });
});

describe("Lambda's Invoke API", () => {
  const functionName = () => runtime.outputs['EnrichFunctionName'] as string;
  const payloadOf = (payload: Uint8Array | undefined) => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));

  it("answers a RequestResponse invocation with the function's JSON result", async () => {
    const result = await lambda.send(new InvokeCommand({ FunctionName: functionName(), Payload: JSON.stringify({ topic: 'news' }) }));

    expect(result).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(result.FunctionError).toBeUndefined();
    expect(payloadOf(result.Payload)).toEqual({ topic: 'news', enrichedBy: functionName() });
  });

  it("serves a function that invokes another by ARN through the SDK, which AWS_ENDPOINT_URL_LAMBDA points here", async () => {
    const reply = await send('POST', '/topics/sports/enriched');

    expect(reply.json()).toEqual({ functionError: null, enriched: { topic: 'sports', enrichedBy: functionName() } });
  });

  it('answers an Event invocation 202 at once and runs the function in the background', async () => {
    const marker = `event-${randomUUID()}`;

    const result = await lambda.send(new InvokeCommand({ FunctionName: functionName(), InvocationType: 'Event', Payload: JSON.stringify({ topic: marker }) }));

    expect(result.StatusCode).toBe(202);
    await eventually(async () => (linesOf('Enrich').some((line) => line.includes(marker)) ? true : undefined), 'the background invocation');
  });

  it('answers a DryRun 204 without running the function', async () => {
    const result = await lambda.send(new InvokeCommand({ FunctionName: functionName(), InvocationType: 'DryRun' }));

    expect(result.StatusCode).toBe(204);
  });

  it('reports a function error as Unhandled with its errorType, errorMessage and trace', async () => {
    const result = await lambda.send(new InvokeCommand({ FunctionName: functionName(), Payload: JSON.stringify({ topic: 'bad', fail: true }) }));

    expect(result).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
    expect(payloadOf(result.Payload)).toEqual({
      errorType: 'TypeError',
      errorMessage: 'cannot enrich bad',
      trace: expect.arrayContaining([expect.stringContaining('TypeError: cannot enrich bad')]),
    });
  });

  it('raises ResourceNotFoundException for a function the template does not have, or a version it cannot have', async () => {
    const unknown = lambda.send(new InvokeCommand({ FunctionName: 'no-such-function', Payload: '{}' }));
    const version = lambda.send(new InvokeCommand({ FunctionName: functionName(), Qualifier: '3', Payload: '{}' }));

    await expect(unknown).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(version).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('handlers written for AWS, run unchanged', () => {
  it('echoes a message through the management endpoint the handler builds as https://${domainName}/${stage}, for ws:// and wss:// clients', async () => {
    // The state directory's certificate authority, which the functions trust and a client may too.
    const ca = readFileSync(path.join(projectDir, 'state', 'ca.pem'));
    const liveUrl = runtime.outputs['LiveUrl'] as string;
    expect(liveUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/live$/);

    for (const url of [liveUrl, liveUrl.replace(/^ws:/, 'wss:')]) {
      const socket = new WebSocket(url, { ca });
      try {
        await once(socket, 'open');
        const echoed = once(socket, 'message');
        socket.send(`hello from ${url}`);
        expect(String((await echoed)[0])).toBe(`hello from ${url}`);
      } finally {
        socket.close();
      }
    }
  });

  it("runs each function on the Node.js major of its template's runtime", async () => {
    const versionOf = async (output: string) => {
      const result = await lambda.send(new InvokeCommand({ FunctionName: runtime.outputs[output], Payload: '{}' }));
      return (JSON.parse(Buffer.from(result.Payload ?? []).toString('utf8')) as { version: string }).version;
    };

    expect(await versionOf('NodeVersion20FunctionName')).toMatch(/^v20\./);
    expect(await versionOf('NodeVersion22FunctionName')).toMatch(/^v22\./);
  });
});

describe('what the runtime will not run', () => {
  const outdirs: string[] = [];
  // provision() creates only tables and queues, and these stacks have none: the clients are never called.
  const unusedEngines = { dynamoDb: new DynamoDBClient({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }) };

  afterAll(() => {
    unusedEngines.dynamoDb.destroy();
    unusedEngines.sqs.destroy();
    for (const outdir of outdirs) rmSync(outdir, { recursive: true, force: true });
  });

  /** The local model of a stack with one function behind a WebSocket API and an HTTP API shaped by `withApi`. */
  async function modelOf(withApi: (stack: Stack, integration: HttpLambdaIntegration) => void) {
    const outdir = mkdtempSync(path.join(PROJECT_DIR, '.local', 'http-api-model-'));
    outdirs.push(outdir);
    const cdkApp = new App({ outdir });
    const stack = new Stack(cdkApp, 'Unsupported');
    const code = Code.fromAsset(path.join(PROJECT_DIR, 'test', 'support', 'http-api-app'));
    const fn = new LambdaFunction(stack, 'Fn', { runtime: Runtime.NODEJS_22_X, handler: 'handlers.echo', code });
    const webSocketApi = new WebSocketApi(stack, 'Live', { defaultRouteOptions: { integration: new WebSocketLambdaIntegration('LiveDefault', fn) } });
    new WebSocketStage(stack, 'LiveStage', { webSocketApi, stageName: 'live' });
    withApi(stack, new HttpLambdaIntegration('Integration', fn));
    const synthesized = readSynthesizedStack(cdkApp.synth().directory, 'Unsupported');
    const context = await provision(synthesized, unusedEngines);
    return () => describeLocalApp(synthesized, context, new URL('http://127.0.0.1:3001'));
  }

  it('refuses a JWT authorizer with an error that names it', async () => {
    const authorizer: IHttpRouteAuthorizer = new HttpJwtAuthorizer('Jwt', 'https://issuer.example.com', { jwtAudience: ['app'] });
    const describe = await modelOf((stack, integration) =>
      new HttpApi(stack, 'Events').addRoutes({ path: '/events', methods: [HttpMethod.POST], integration, authorizer }),
    );

    expect(describe).toThrow(/authorizer .*: only Lambda REQUEST authorizers run locally \(JWT authorizers are not emulated\)/);
  });

  it('names a CORS configuration among what is not run locally', async () => {
    const describe = await modelOf((stack, integration) =>
      new HttpApi(stack, 'Events', { corsPreflight: { allowOrigins: ['*'], allowMethods: [CorsHttpMethod.POST] } }).addRoutes({
        path: '/events',
        methods: [HttpMethod.POST],
        integration,
      }),
    );

    expect(describe().notRunLocally).toEqual([expect.stringMatching(/^HTTP API Events.*: its CORS configuration/)]);
  });
});

describe("ws-notify's enrichment, through the Invoke API", () => {
  const functionArn = () => `arn:aws:lambda:${runtime.outputs.Region}:000000000000:function:${runtime.outputs['EnrichFunctionName']}`;
  const published = (type: string) => ({ topic: 'orders', event: { specversion: '1.0' as const, id: 'e-1', source: 'https://shop.example', type } });

  it("returns the function's event, and the user it names", async () => {
    const result = await enrich(functionArn(), published('order.created'), lambda);

    expect(result).toEqual({ event: published('order.created').event });
  });

  it('throws an error to retry, naming the function, when the function fails', async () => {
    const failing = enrich(functionArn(), published('enrich.fails'), lambda);

    await expect(failing).rejects.toThrow(/enrichment function .* failed: .*cannot enrich orders/);
    await expect(failing).rejects.not.toBeInstanceOf(InvalidMessageError);
  });

  it.each([
    ['no event', 'enrich.malformed', /must return \{event: <CloudEvent>, userId\?\}: .*event/],
    ['an anonymous user', 'enrich.anonymous', /named an anonymous user/],
  ])('refuses a result with %s as an invalid message, to be dead-lettered with the reason', async (_, type, reason) => {
    const refused = enrich(functionArn(), published(type), lambda);

    await expect(refused).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(refused).rejects.toThrow(reason);
  });
});
