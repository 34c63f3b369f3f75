import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { buildApp } from '../../bin/app';
import { buildApp as buildOrderEnrichmentApp } from '../../examples/order-enrichment/bin/app';

// Every documented way to deploy, as the CDK CLI hands it to the app: context as `-c` passes it
// (strings), an account and a region. The deploy-synth and logical-id tests synthesize each one.

export const ACCOUNT = '123456789012';
export const JWT = { jwtIssuer: 'https://issuer.example.com', jwtAudience: 'my-app' };

export const DEPLOY_VARIANTS = {
  'default (JWT)': JWT,
  tenants: { ...JWT, tenantClaim: 'org' },
  anonymous: { ...JWT, allowAnonymous: 'true' },
  'public topics': { ...JWT, publicTopics: 'news,status.*' },
  'public groups': { ...JWT, publicGroups: 'lobby#viewers,status.*' },
  maxSubscriptionsPerConnection: { ...JWT, maxSubscriptionsPerConnection: '250' },
  'connection limits': { ...JWT, maxConnectionsPerUser: '10', maxConnectionsPerApiKey: '100' },
  'key-only (no JWT)': {},
  'anonymous-only': { apiKeys: 'false', allowAnonymous: 'true' },
  'JWT without API keys': { ...JWT, apiKeys: 'false' },
  'configureApiGatewayAccountLogging=false': { ...JWT, configureApiGatewayAccountLogging: 'false' },
  'consumer concurrency': { ...JWT, notifyUserConcurrency: '5', notifyConnectionConcurrency: '100', publishConcurrency: '2' },
  keepalive: { ...JWT, keepalive: 'requested' },
  'history settings': { ...JWT, historyTtl: '600', historyMaxEntries: '100', replayLimit: '50' },
  'history=false': { ...JWT, history: 'false' },
  ackTimeout: { ...JWT, ackTimeout: '120' },
  stackName: { ...JWT, stackName: 'WsNotifyStaging' },
} as const satisfies Record<string, Record<string, string>>;

export type DeployVariant = keyof typeof DEPLOY_VARIANTS;

/** The example app that passes enrichers (the enriching topic fan-out), synthesized like the others. */
export const ORDER_ENRICHMENT = 'examples/order-enrichment';

/** cdk.json's context (feature flags such as minimizePolicies), which the CLI hands every synth. */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

/** A fresh app as the CLI starts it, with cdk.json's context, bundling skipped (these read the template); its outdir goes with `dispose`. */
export function newApp(context: Record<string, string>, outdirs: string[]): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'ws-notify-deploy-synth-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
}

export function dispose(outdirs: string[]): void {
  outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
}

/** The stack `cdk deploy` would deploy for a variant (or the order-enrichment example), in one region. */
export function synthesizeVariant(name: DeployVariant | typeof ORDER_ENRICHMENT, region: string, outdirs: string[]): Stack {
  const environment = { CDK_DEFAULT_ACCOUNT: ACCOUNT, CDK_DEFAULT_REGION: region };
  if (name === ORDER_ENRICHMENT) return buildOrderEnrichmentApp(newApp(JWT, outdirs), environment);
  return buildApp(newApp(DEPLOY_VARIANTS[name], outdirs), environment);
}
