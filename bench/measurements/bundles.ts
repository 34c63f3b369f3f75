import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { build, type BuildOptions, stop as stopEsbuild } from 'esbuild';
import { BUNDLING_ALIASES } from '../../lib/ws-notify';
import { readSynthesizedStack, resourcesOfType, type TemplateResource } from '../../local/cloudformation/cloud-assembly';
import { median, round } from '../runner/stats';

const run = promisify(execFile);
const PROBE = path.join(__dirname, 'import-probe.mjs');
const PROJECT_DIR = path.join(__dirname, '..', '..');

/** One synthesized function bundle: the file `cdk deploy` uploads. */
export interface FunctionBundle {
  /** The handler's name in lambdas/handlers (e.g. `notify-user`), from the construct id (`NotifyUserFunction`). */
  name: string;
  file: string;
  memoryMb: number;
  /** The function's environment, with values the template leaves to deploy time replaced by placeholders. */
  environment: Record<string, string>;
}

export interface BundleMeasurement {
  bytes: number;
  /** Median time to require() the bundle in a fresh `node` process (its init: module scope included). */
  importMs: number;
  importRunsMs: number[];
  /** Median CPU time of the same (user + system). */
  importCpuMs: number;
  /** Heap the loaded bundle holds. */
  heapMb: number;
  /** Bytes of the minified bundle by npm package, largest first (from an esbuild metafile of the same entry). */
  composition?: { package: string; kb: number }[];
}

/** The functions of a synthesized stack and their bundles. */
export function functionBundles(assemblyDir: string, stackName?: string): FunctionBundle[] {
  const stack = readSynthesizedStack(assemblyDir, stackName);
  return resourcesOfType(stack, 'AWS::Lambda::Function').flatMap(([logicalId, resource]) => {
    const key = (resource.Properties?.['Code'] as { S3Key?: unknown } | undefined)?.S3Key;
    const codeDir = typeof key === 'string' ? stack.assetDirectories.get(key) : undefined;
    if (!codeDir) return [];
    const handler = String(resource.Properties?.['Handler'] ?? 'index.handler');
    return [
      {
        name: handlerName(logicalId, resource),
        file: path.join(codeDir, `${handler.slice(0, handler.lastIndexOf('.'))}.js`),
        memoryMb: Number(resource.Properties?.['MemorySize'] ?? 128),
        environment: placeholderEnvironment(resource),
      },
    ];
  });
}

/** `WsNotify/WsNotify/NotifyUserFunction/Resource` → `notify-user`. */
export function handlerName(logicalId: string, resource: TemplateResource): string {
  const cdkPath = String(resource.Metadata?.['aws:cdk:path'] ?? logicalId);
  const constructId = cdkPath.split('/').find((part) => part.endsWith('Function')) ?? logicalId;
  return constructId
    .replace(/Function$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

function placeholderEnvironment(resource: TemplateResource): Record<string, string> {
  const variables = (resource.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      // Tokens (table names, queue URLs, endpoints) are only known at deploy time; any well-formed value loads.
      typeof value === 'string' ? value : 'http://127.0.0.1:9/placeholder',
    ]),
  );
}

export class BundleInitError extends Error {
  override readonly name = 'BundleInitError';
}

/** Size, cold import time (median of `runs` fresh processes) and heap of one bundle. */
export async function measureBundle(bundle: FunctionBundle, runs: number): Promise<BundleMeasurement> {
  const env = {
    PATH: process.env['PATH'] ?? '',
    ...bundle.environment,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_LAMBDA_FUNCTION_NAME: bundle.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(bundle.memoryMb),
    TZ: 'UTC',
    // Lambda runs Node 22, where the SDK has no Node 20 deprecation warning to print.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const samples: { importMs: number; cpuMs: number; heapMb: number }[] = [];
  for (let attempt = 0; attempt < runs; attempt++) {
    try {
      const { stdout } = await run(process.execPath, [PROBE, bundle.file], { env, timeout: 30_000 });
      samples.push(JSON.parse(stdout) as { importMs: number; cpuMs: number; heapMb: number });
    } catch (error) {
      // A bundle whose init throws (a missing variable, say): the last lines of its error say why.
      const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message);
      throw new BundleInitError(`${bundle.name} failed to load: ${stderr.split('\n').filter((line) => /Error|at /.test(line)).slice(0, 2).join(' | ').slice(0, 300)}`);
    }
  }
  const importRunsMs = samples.map((sample) => round(sample.importMs, 1));
  return {
    bytes: statSync(bundle.file).size,
    importMs: median(importRunsMs) as number,
    importRunsMs,
    importCpuMs: round(median(samples.map((sample) => sample.cpuMs)) as number, 1),
    heapMb: round(median(samples.map((sample) => sample.heapMb)) as number, 1),
  };
}

/** The bundling options lib/ws-notify.ts gives NodejsFunction, for esbuild's own API. */
export function nodejsFunctionBuildOptions(entry: string): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    keepNames: true,
    mainFields: ['module', 'main'],
    write: false,
    metafile: true,
    alias: { ...BUNDLING_ALIASES },
    outfile: 'index.js',
    logLevel: 'silent',
  };
}

/** esbuild's API keeps a service process running; the benchmark ends it when it is done building. */
export async function stopBuilding(): Promise<void> {
  await stopEsbuild();
}

/** The handler's source, if it is one of lambdas/handlers. */
export function handlerEntry(name: string): string | undefined {
  const entry = path.join(PROJECT_DIR, 'lambdas', 'handlers', `${name}.ts`);
  return existsSync(entry) ? entry : undefined;
}

/** What a bundle is made of: its minified bytes by npm package (`(ws-notify)` for the project's own code). */
export async function composition(entry: string, options: Partial<BuildOptions> = {}): Promise<{ bytes: number; byPackage: { package: string; kb: number }[] }> {
  const result = await build({ ...nodejsFunctionBuildOptions(entry), ...options });
  const output = Object.values(result.metafile?.outputs ?? {})[0];
  if (!output) throw new Error(`esbuild produced nothing for ${entry}`);
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(ws-notify)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return {
    bytes: output.bytes,
    byPackage: [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => ({ package: name, kb: round(bytes / 1024, 1) })),
  };
}
