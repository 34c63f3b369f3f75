import { existsSync, type FSWatcher, mkdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { browserBundle } from '../client/bundle';
import { HttpApiGateway } from './apigateway/http-api';
import { handleManagementApiRequest } from './apigateway/management-api';
import { WebSocketGateway } from './apigateway/websocket-api';
import { planChange, rebuildBundle, recordRebuild } from './cdk/handler-bundles';
import { synthesize, watchedDirectories } from './cdk/synth';
import { forgetSynthInputs, recordSynthInputs, reusableSynth, type SynthInputs } from './cdk/synth-inputs';
import { describeLocalApp, httpApiLogicalIds, type LocalApp } from './cloudformation/app-model';
import { readSynthesizedStack } from './cloudformation/cloud-assembly';
import { provision } from './cloudformation/provision';
import { type FaultSpec, Faults, parseFaultSpec } from './dev-endpoints/faults';
import { LOCAL_AUDIENCE, LocalIssuer } from './dev-endpoints/issuer';
import { LocalMetrics, type LocalMetricsSnapshot } from './dev-endpoints/metrics';
import { startDynamoDbProxy } from './engines/dynamodb-proxy';
import { type DynamoDbLocal, type Engine, startDynamoDbLocal, startSqsEmulator } from './engines/engine-processes';
import { Scheduler } from './event-sources/scheduler';
import { SqsEventSourcePoller } from './event-sources/sqs-poller';
import { declaresJson, foreignHostOf, foreignOriginOf } from './http/browser-guard';
import type { LoopbackProxy } from './http/loopback-proxy';
import { CA_FILE, openLocalTls, type PlainAndTlsPort, plainAndTlsOnOnePort } from './http/tls';
import { linkAwsSdk } from './lambda/aws-sdk-modules';
import { type InvocationReport, LocalFunction } from './lambda/functions';
import { handleLambdaInvokeRequest } from './lambda/invoke-api';

export interface LocalRuntimeOptions {
  /** @default 3001; 0 picks a free port */
  port?: number;
  /** The CDK project to run. @default process.cwd() */
  projectDir?: string;
  /** Where the synthesized app, the issuer key and outputs.json go. @default `<projectDir>/.local` */
  stateDir?: string;
  /** The stack to run, where the app has several. */
  stackName?: string;
  /** CDK context for the synth, as `cdk synth -c key=value` takes it (e.g. allowAnonymous, tenantClaim). */
  context?: Record<string, string>;
  /** @default 600 (API Gateway's 10 minutes) */
  idleTimeoutSeconds?: number;
  /** @default 7200 (API Gateway's 2 hours) */
  maxConnectionSeconds?: number;
  /**
   * Reload when a file under cdk.json's `watch.include` changes: a handler-only edit rebuilds the
   * bundles that include the file; any other re-synthesizes. @default false
   */
  watch?: boolean;
  /** Synthesize even if nothing the last synth read has changed since. @default false: reuse it */
  synth?: boolean;
  /** Run every scheduled rule this often instead of at its own rate (to try a schedule without waiting). */
  scheduleEverySeconds?: number;
  /** DynamoDB Local with the JVM's full JIT: a slower start, faster under sustained load (benchmarks). @default false */
  fullJitDynamoDb?: boolean;
  /** Execution environments per function. @default 4 */
  maxInstancesPerFunction?: number;
  /** The runtime's own messages. */
  log?: (message: string) => void;
  /** What the functions write. @default discarded */
  functionLog?: (functionName: string, line: string) => void;
  /**
   * Measure every invocation (its duration, init, and the AWS SDK commands it sent) and report it
   * here; for benchmarks. @default nothing is measured
   */
  onInvocation?: (report: InvocationReport) => void;
  /** Faults in force from the start (`--faults`); `/_local/faults` changes them. @default none */
  faults?: FaultSpec;
}

/** `.local/outputs.json`: the stack's outputs, resolved locally, plus the local engines' endpoints. */
export type LocalOutputs = Record<string, string> & {
  SqsEndpoint: string;
  DynamoDbEndpoint: string;
  Region: string;
};

export interface LocalRuntime {
  /** `http://127.0.0.1:<port>`: the test page, the issuer, the management API, Lambda's Invoke API; `ws://` for the API. */
  url: string;
  stackName: string;
  outputs: LocalOutputs;
  outputsFile: string;
  /** The state directory's certificate authority (`ca.pem`): `https://` and `wss://` on the same port verify with it. */
  caFile: string;
  issuer: LocalIssuer;
  /** What the functions' metrics add up to so far (also `GET /_local/metrics`). */
  metrics(): LocalMetricsSnapshot;
  /** How the start went: whether it synthesized, and when each part was done. */
  startup: StartupReport;
  stop(): Promise<void>;
}

export interface StartupReport {
  /** False where the last synth was reused. */
  synthesized: boolean;
  /** Milliseconds from the start until each part was done (the first four run at once). */
  readyMs: { dynamoDbLocal: number; sqsEmulator: number; issuer: number; synth: number; load: number };
}

/** The parts of a loaded app that a reload replaces. */
interface Loaded {
  app: LocalApp;
  functions: Map<string, LocalFunction>;
  pollers: SqsEventSourcePoller[];
  scheduler: Scheduler;
}

const TEST_PAGE = path.join(__dirname, 'dev-endpoints', 'test-page.html');

/**
 * The test page mints tokens and sends notifications at a click: a page of another site could frame
 * it and lure those clicks (clickjacking). Both headers, for browsers that know only the older one.
 */
const NOT_FRAMED = { 'content-security-policy': "frame-ancestors 'self'", 'x-frame-options': 'SAMEORIGIN' };

/** The answer to a development endpoint's body sent as anything but JSON (a form, text/plain). */
const NOT_JSON = { message: 'send the body as JSON, with Content-Type: application/json' };

/**
 * Runs the project's CDK app on this machine: synthesizes it, creates its tables and queues in
 * DynamoDB Local and the SQS emulator, runs its functions from the synthesized bundles, polls its
 * queues as Lambda's event-source mappings do, and serves its WebSocket API, the management API,
 * Lambda's Invoke API, a development token issuer and a test page on one loopback port, and each
 * of its HTTP APIs on a loopback port of its own.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const projectDir = path.resolve(options.projectDir ?? process.cwd());
  // Checked before anything starts: without it the failure would be a synth error about a missing app.
  if (!existsSync(path.join(projectDir, 'cdk.json'))) {
    throw new Error(`there is no cdk.json in ${projectDir}: run this in your CDK app's directory, or name it with --project <dir>`);
  }
  const stateDir = path.resolve(options.stateDir ?? path.join(projectDir, '.local'));
  const log = options.log ?? (() => undefined);
  mkdirSync(stateDir, { recursive: true });

  let ready: Ready | undefined;
  const serve = (request: IncomingMessage, response: ServerResponse) => {
    // Every endpoint here can mint tokens, send or invoke: none answers a web page of another origin.
    const refusal = foreignHostOf(request) ?? foreignOriginOf(request);
    if (refusal) return sendJson(response, 403, { message: refusal });
    if (!ready) return sendJson(response, 503, { message: 'the local runtime is starting' });
    ready.serveHttp(request, response).catch((error: unknown) => sendJson(response, 500, { message: String(error) }));
  };
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    // No Origin check: as on API Gateway, a page of any origin may open a connection, which its
    // credential authorizes; only the tokens a page cannot mint here (see above) let it in.
    const refusal = foreignHostOf(request);
    if (refusal || !ready?.gateway.servesPath(pathname)) {
      const body = JSON.stringify({ message: refusal ?? 'Forbidden' });
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    void ready.gateway.handleUpgrade(request, socket, head);
  };
  // TLS too, on the same port: handlers build the management endpoint as `https://${domainName}/${stage}`.
  const tls = await openLocalTls(stateDir);
  const plainServer = createServer(serve).on('upgrade', upgrade);
  const secureServer = createHttpsServer({ key: tls.key, cert: tls.cert }, serve).on('upgrade', upgrade);
  const server = plainAndTlsOnOnePort(plainServer, secureServer);
  const { listener } = server;
  const port = options.port ?? 3001;
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} on 127.0.0.1 is in use (another npm start?): stop it, or pass --port 0 for a free port`)
          : error,
      ),
    );
    listener.listen(port, '127.0.0.1', resolve);
  });
  const origin = new URL(`http://127.0.0.1:${(listener.address() as AddressInfo).port}`);

  const engines: Engine[] = [];
  const started = Date.now();
  const readyMs: Partial<StartupReport['readyMs']> = {};
  const timed = <T>(part: keyof StartupReport['readyMs'], work: Promise<T>) => work.then((value) => ((readyMs[part] = Date.now() - started), value));
  // First, as the slowest to be ready when the synth is reused (DynamoDB Local's JVM above all).
  const enginesStarting = [
    timed('dynamoDbLocal', startDynamoDbLocal({ fullJit: options.fullJitDynamoDb === true }).then((engine) => (engines.push(engine), engine))),
    timed('sqsEmulator', startSqsEmulator().then((engine) => (engines.push(engine), engine))),
  ] as const;
  try {
    const issuerUrl = `${origin.origin}/issuer`;
    const settings = {
      projectDir,
      assemblyDir: path.join(stateDir, 'cdk.out'),
      ...(options.stackName !== undefined && { stackName: options.stackName }),
      // The local issuer replaces whatever issuer the context names: its tokens are the ones that verify here.
      context: { ...options.context, jwtIssuer: issuerUrl, jwtAudience: LOCAL_AUDIENCE },
    };
    const synth = async (): Promise<SynthInputs | undefined> => {
      forgetSynthInputs(settings.assemblyDir);
      const recorded = recordSynthInputs(settings, await synthesize({ projectDir, outputDir: settings.assemblyDir, context: settings.context }));
      if ('reason' in recorded) log(`this synth cannot be reused, nor handler edits rebuilt alone: ${recorded.reason}`);
      return 'inputs' in recorded ? recorded.inputs : undefined;
    };
    const reusable = options.synth ? { reason: 'asked to (--synth)' } : reusableSynth(settings);
    log(
      'inputs' in reusable
        ? 'reusing the last synth (nothing it read has changed) and starting DynamoDB Local and the SQS emulator…'
        : `synthesizing the CDK app (${reusable.reason}) and starting DynamoDB Local and the SQS emulator…`,
    );
    const [dynamo, sqsEngine, issuer, inputs] = await Promise.all([
      ...enginesStarting,
      timed('issuer', LocalIssuer.open(stateDir, issuerUrl)),
      timed('synth', 'inputs' in reusable ? Promise.resolve(reusable.inputs) : synth()),
    ]);
    const parts = { options, projectDir, stateDir, origin, server, engines: { dynamo, sqs: sqsEngine }, issuer, inputs, synth, log };
    ready = await timed('load', Ready.create(parts));
    const startup = { synthesized: !('inputs' in reusable), readyMs: readyMs as StartupReport['readyMs'] };
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    log(
      `ready in ${seconds(startup.readyMs.load)}: DynamoDB Local ${seconds(startup.readyMs.dynamoDbLocal)}, SQS emulator ${seconds(startup.readyMs.sqsEmulator)}, ` +
        `${startup.synthesized ? 'synth' : 'synth reused'} ${seconds(startup.readyMs.synth)}, then provisioning and loading`,
    );
    return { ...ready.runtime(), startup };
  } catch (error) {
    // An engine still starting when something else failed is stopped too, once it has started.
    await Promise.allSettled(enginesStarting);
    await Promise.all(engines.map((engine) => engine.stop()));
    await server.close();
    throw error;
  }
}

interface ReadyParts {
  options: LocalRuntimeOptions;
  projectDir: string;
  stateDir: string;
  origin: URL;
  server: PlainAndTlsPort;
  engines: { dynamo: DynamoDbLocal; sqs: Engine };
  issuer: LocalIssuer;
  /** What the running app's synth read; undefined where it is not known (every edit then re-synthesizes). */
  inputs: SynthInputs | undefined;
  synth: () => Promise<SynthInputs | undefined>;
  log: (message: string) => void;
}

/** The runtime once its engines run: loads (and reloads) the app and serves it. */
class Ready {
  readonly gateway: WebSocketGateway;
  private readonly httpApis: HttpApiGateway;
  private loaded!: Loaded;
  private readonly dynamoDb: DynamoDBClient;
  private readonly sqs: SQSClient;
  private readonly watchers: FSWatcher[] = [];
  private reloading: Promise<void> = Promise.resolve();
  private inputs: SynthInputs | undefined;
  private rebuilds = 0;
  private outputs!: LocalOutputs;
  // Kept across reloads: the counts are the session's, as CloudWatch's outlive a deployment.
  private readonly metrics = new LocalMetrics();
  private readonly faults = new Faults();
  /** The functions' DynamoDB endpoint, which can pause a table (`--faults`). */
  private dynamoDbProxy!: LoopbackProxy;
  /** The client SDK's browser bundle, built on the first request for it. */
  private clientBundle?: Promise<Uint8Array>;

  private constructor(private readonly parts: ReadyParts) {
    const { engines, options } = parts;
    this.inputs = parts.inputs;
    rmSync(this.rebuiltBundlesDir, { recursive: true, force: true });
    const clientConfig = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    this.dynamoDb = new DynamoDBClient({ ...clientConfig, endpoint: engines.dynamo.endpoint });
    this.sqs = new SQSClient({ ...clientConfig, endpoint: engines.sqs.endpoint, useQueueUrlAsEndpoint: false });
    this.gateway = new WebSocketGateway(
      () => ({ api: this.loaded.app.webSocketApi, region: this.loaded.app.region, invoke: (name, event) => this.invoke(name, event) }),
      {
        idleTimeoutMs: (options.idleTimeoutSeconds ?? 600) * 1000,
        maxConnectionMs: (options.maxConnectionSeconds ?? 7200) * 1000,
      },
      (message, detail) => parts.log(`${message}${detail ? ` ${JSON.stringify(detail)}` : ''}`),
    );
    this.httpApis = new HttpApiGateway(
      (logicalId) => {
        // Undefined while the first load has not finished, or for an API only the app being loaded has.
        const api = this.loaded?.app.httpApis.find((candidate) => candidate.logicalId === logicalId);
        return api && { api, region: this.loaded.app.region, invoke: (name, event) => this.invoke(name, event) };
      },
      (message, detail) => parts.log(`${message}${detail ? ` ${JSON.stringify(detail)}` : ''}`),
    );
  }

  static async create(parts: ReadyParts): Promise<Ready> {
    const ready = new Ready(parts);
    if (parts.options.faults) {
      // There is no connection to drop yet.
      const { dropConnections: _, ...standing } = parts.options.faults;
      ready.faults.set(standing);
    }
    ready.dynamoDbProxy = await startDynamoDbProxy(parts.engines.dynamo.database, ready.faults);
    try {
      ready.loaded = await ready.load();
    } catch (error) {
      // A template the runtime cannot run may be found after the HTTP APIs' ports were opened.
      await ready.httpApis.close();
      await ready.dynamoDbProxy.close();
      throw error;
    }
    ready.writeOutputs();
    if (parts.options.watch) ready.watch();
    return ready;
  }

  runtime(): Omit<LocalRuntime, 'startup'> {
    const { origin, issuer, server, engines } = this.parts;
    return {
      url: origin.origin,
      stackName: this.loaded.app.stackName,
      outputs: this.outputs,
      outputsFile: this.outputsFile,
      caFile: path.join(this.parts.stateDir, CA_FILE),
      issuer,
      metrics: () => this.metrics.snapshot(),
      stop: async () => {
        await this.stopServing();
        await Promise.all(Object.values(engines).map((engine) => engine.stop()));
        // Last: while it is there, the engines it names answer.
        rmSync(this.outputsFile, { force: true });
        await server.close();
      },
    };
  }

  /** Closes connections (running their `$disconnect`s against the live engines), then stops pollers and functions. */
  async stopServing(): Promise<void> {
    for (const watcher of this.watchers) watcher.close();
    await this.reloading;
    await this.gateway.closeAll();
    await this.httpApis.close();
    await this.unload(this.loaded);
    rmSync(this.rebuiltBundlesDir, { recursive: true, force: true });
    await this.dynamoDbProxy.close();
    this.dynamoDb.destroy();
    this.sqs.destroy();
  }

  async serveHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.parts.origin);
    const stage = this.loaded.app.webSocketApi.stageName;
    if (handleManagementApiRequest(this.gateway, stage, request, response, (method, id) => this.faults.managementApiFault(method, id))) return;
    if (this.gateway.handlePlainRequest(request, response)) return;
    const { app, functions } = this.loaded;
    const invokable = { region: app.region, has: (name: string) => functions.has(name), invoke: (name: string, event: unknown) => this.invoke(name, event) };
    if (handleLambdaInvokeRequest(invokable, request, response, this.parts.log)) return;
    const route = `${request.method} ${url.pathname}`;
    switch (route) {
      case 'GET /':
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...NOT_FRAMED }).end(readFileSync(TEST_PAGE));
        return;
      case 'GET /issuer/.well-known/jwks.json':
        return sendJson(response, 200, this.parts.issuer.jwks());
      case 'GET /issuer/.well-known/openid-configuration':
        return sendJson(response, 200, this.parts.issuer.openIdConfiguration());
      case 'GET /_local/outputs':
        return sendJson(response, 200, this.outputs);
      case 'GET /_local/client.js':
        this.clientBundle ??= browserBundle().then(({ code }) => code);
        response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(await this.clientBundle);
        return;
      case 'GET /_local/metrics':
        return sendJson(response, 200, this.metrics.snapshot());
      case 'GET /_local/faults':
        return sendJson(response, 200, this.faults.report());
      case 'DELETE /_local/faults':
        this.faults.set({});
        return sendJson(response, 200, this.faults.report());
      case 'PUT /_local/faults':
      case 'POST /_local/faults': {
        if (!declaresJson(request)) return sendJson(response, 415, NOT_JSON);
        let spec: FaultSpec;
        try {
          spec = parseFaultSpec(await readJson(request));
        } catch (error) {
          return sendJson(response, 400, { message: (error as Error).message });
        }
        const { dropConnections, ...standing } = spec;
        // PUT replaces the faults in force, POST adds to them.
        if (request.method === 'PUT') this.faults.set(standing);
        else this.faults.add(standing);
        const dropped = dropConnections ? this.gateway.drop(dropConnections) : [];
        return sendJson(response, 200, { ...this.faults.report(), dropped });
      }
      case 'POST /_local/token': {
        if (!declaresJson(request)) return sendJson(response, 415, NOT_JSON);
        const { userId, ttlSeconds, ...grants } = ((await readJson(request)) ?? {}) as Record<string, unknown>;
        if (typeof userId !== 'string' || userId.length === 0) return sendJson(response, 400, { message: 'userId (a string) is required' });
        // The topic grants a real issuer would put in the token; the authorizer checks them as it would those.
        const claims = Object.fromEntries(Object.entries(grants).filter(([name]) => name === 'topics' || name === 'publishTopics'));
        const token = await this.parts.issuer.mint({ userId, claims, ...(typeof ttlSeconds === 'number' && { ttlSeconds }) });
        return sendJson(response, 200, { token });
      }
      case 'POST /_local/notify': {
        if (!declaresJson(request)) return sendJson(response, 415, NOT_JSON);
        // The test page's "notify me": a real NotifyUser queue message, as a backend would send it.
        const queueUrl = this.outputs['NotifyUserQueueUrl'];
        if (!queueUrl) return sendJson(response, 404, { message: 'the stack has no NotifyUserQueueUrl output' });
        const message = (await readJson(request)) as { userId?: unknown } | undefined;
        if (typeof message?.userId !== 'string' || message.userId.length === 0 || !('data' in message)) {
          return sendJson(response, 400, { message: 'send a JSON body {"userId": string, "data": any JSON}' });
        }
        const body = JSON.stringify(message);
        const { MessageId } = await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
        return sendJson(response, 202, { messageId: MessageId });
      }
      default:
        return sendJson(response, 404, { message: `nothing at ${route}` });
    }
  }

  private async invoke(functionName: string, event: unknown): Promise<unknown> {
    const fn = this.loaded.functions.get(functionName);
    if (!fn) throw new Error(`no function ${functionName} in the template`);
    return fn.invoke(event);
  }

  private async load(): Promise<Loaded> {
    const { options, stateDir, origin, engines, log } = this.parts;
    const stack = readSynthesizedStack(path.join(stateDir, 'cdk.out'), options.stackName);
    const context = await provision(stack, { dynamoDb: this.dynamoDb, sqs: this.sqs });
    const httpApiOrigins = await this.httpApis.serve(httpApiLogicalIds(stack));
    const app = describeLocalApp(stack, context, origin, httpApiOrigins);
    const baseEnvironment = {
      AWS_REGION: app.region,
      AWS_DEFAULT_REGION: app.region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      // Through the proxy that can pause a table (`--faults`).
      AWS_ENDPOINT_URL_DYNAMODB: this.dynamoDbProxy.endpoint,
      AWS_ENDPOINT_URL_SQS: engines.sqs.endpoint,
      // Functions that invoke others (`@aws-sdk/client-lambda`) reach this runtime's Invoke API.
      AWS_ENDPOINT_URL_LAMBDA: origin.origin,
      // The AWS SDK, for bundles that leave it to the runtime (see linkAwsSdk).
      NODE_PATH: linkAwsSdk(stateDir),
      // The runtime's port speaks TLS too, with a certificate of the state directory's authority.
      NODE_EXTRA_CA_CERTS: path.join(stateDir, CA_FILE),
      TZ: 'UTC',
    };
    const functions = new Map(
      [...app.functions.values()].map((definition) => [
        definition.name,
        new LocalFunction(definition, {
          baseEnvironment,
          maxInstances: options.maxInstancesPerFunction ?? 4,
          log: (functionName, line) => {
            this.metrics.take(line);
            options.functionLog?.(functionName, line);
          },
          ...(options.onInvocation && { onInvocation: options.onInvocation }),
        }),
      ]),
    );
    const pollers = app.eventSourceMappings.map(
      (mapping) =>
        new SqsEventSourcePoller(
          mapping,
          this.sqs,
          (event) => this.invoke(mapping.functionName, event),
          app.region,
          (error) => log(`${mapping.functionName} (from its queue): ${error.message}`),
          () => this.faults.queueDelayMs(mapping.queueUrl),
        ),
    );
    for (const poller of pollers) poller.start();
    const scheduler = new Scheduler(
      app.scheduledRules,
      (functionName, event) => this.invoke(functionName, event),
      app.region,
      (rule, error) => log(`scheduled rule ${rule.logicalId}: ${error.message}`),
      options.scheduleEverySeconds,
    );
    scheduler.start();
    log(
      `loaded ${app.stackName}: ${app.functions.size} functions, routes ${[...app.webSocketApi.routes.keys()].join(' ')}, ` +
        `${pollers.length} queue event sources, ${app.scheduledRules.length} scheduled rules`,
    );
    for (const api of app.httpApis) {
      log(`HTTP API ${api.logicalId} at ${httpApiOrigins.get(api.logicalId)?.origin}/: routes ${api.routes.map((route) => route.routeKey).join(', ')}`);
    }
    for (const notice of app.notRunLocally) log(`not run locally: ${notice}`);
    return { app, functions, pollers, scheduler };
  }

  private async unload(loaded: Loaded): Promise<void> {
    await loaded.scheduler.stop();
    await Promise.all(loaded.pollers.map((poller) => poller.stop()));
    await Promise.all([...loaded.functions.values()].map((fn) => fn.stop()));
  }

  private get outputsFile(): string {
    return path.join(this.parts.stateDir, 'outputs.json');
  }

  private writeOutputs(): void {
    const { engines } = this.parts;
    const { app } = this.loaded;
    this.outputs = {
      ...app.outputs,
      SqsEndpoint: engines.sqs.endpoint,
      DynamoDbEndpoint: engines.dynamo.endpoint,
      Region: app.region,
    };
    // The shape `cdk deploy --outputs-file` writes, so one script reads either; renamed into place
    // so that a CLI reading it during a reload never sees half a file.
    writeFileSync(`${this.outputsFile}.tmp`, `${JSON.stringify({ [app.stackName]: this.outputs }, null, 2)}\n`);
    renameSync(`${this.outputsFile}.tmp`, this.outputsFile);
  }

  /** Where bundles rebuilt after a handler edit go (the assembly stays as the synth made it). */
  private get rebuiltBundlesDir(): string {
    return path.join(this.parts.stateDir, 'bundles');
  }

  private watch(): void {
    let timer: NodeJS.Timeout | undefined;
    const changed = new Set<string>();
    const onChange = (file: string) => {
      changed.add(file);
      clearTimeout(timer);
      timer = setTimeout(() => {
        const files = [...changed];
        changed.clear();
        this.reloading = this.reloading.then(() => this.reload(files));
      }, 300);
    };
    for (const dir of watchedDirectories(this.parts.projectDir)) {
      // Without a name (rare), the change cannot be placed: the directory itself stands for it, and is no bundle's input.
      this.watchers.push(watch(dir, { recursive: true }, (_, file) => onChange(file ? path.join(dir, file) : dir)));
    }
  }

  /**
   * Applies an edit: a handler-only edit rebuilds the bundles that include the edited files and
   * swaps those functions' code; any other edit re-synthesizes and swaps in the new functions,
   * routes and pollers. Connections, tables and queues stay; a failed build keeps the running app.
   */
  private async reload(files: string[]): Promise<void> {
    const { log, projectDir } = this.parts;
    const plan = planChange(this.inputs, files, projectDir);
    if (plan.kind === 'unchanged') return;
    const changed = [...(plan.kind === 'rebuild' ? plan.digests.keys() : files)].map((file) => path.relative(projectDir, file)).join(', ');
    if (plan.kind === 'rebuild') {
      log(`${changed} changed: handler code only, rebuilding ${plan.bundles.length} bundle(s) without a synth…`);
      const started = Date.now();
      try {
        const built = await Promise.all(
          plan.bundles.map(async (bundle) => {
            const codeDir = path.join(this.rebuiltBundlesDir, `${bundle.functionLogicalIds[0]}-${++this.rebuilds}`);
            return { bundle, codeDir, bundleInputs: await rebuildBundle(bundle, codeDir) };
          }),
        );
        const swapped: string[] = [];
        for (const { bundle, codeDir, bundleInputs } of built) {
          recordRebuild(this.inputs as SynthInputs, bundle, codeDir, bundleInputs, plan.digests);
          for (const fn of this.loaded.functions.values()) {
            if (!bundle.functionLogicalIds.includes(fn.definition.logicalId)) continue;
            await fn.replaceCode(codeDir);
            swapped.push(fn.definition.name);
          }
        }
        log(`reloaded ${swapped.join(', ')} in ${Date.now() - started} ms (no synth)`);
      } catch (error) {
        log(`rebuild failed, still running the previous code: ${(error as Error).message}`);
      }
      return;
    }
    log(`${changed} changed: re-synthesizing (${plan.reason})…`);
    try {
      this.inputs = await this.parts.synth();
      const previous = this.loaded;
      this.loaded = await this.load();
      this.writeOutputs();
      await this.unload(previous);
      await this.httpApis.close(this.loaded.app.httpApis.map((api) => api.logicalId));
      log('reloaded');
    } catch (error) {
      log(`reload failed, still running the previous version: ${(error as Error).message}`);
    }
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The request's JSON body, or undefined if it is not JSON. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}


