import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

export interface SynthRequest {
  projectDir: string;
  outputDir: string;
  context: Record<string, string>;
}

/** A NodejsFunction bundle whose esbuild step the synth recorded: enough to build it again alone. */
export interface EsbuildBundle {
  rebuildable: true;
  /** The esbuild command CDK ran (`--bundle`, the entry and every option), its runner the binary `npx --no-install esbuild` finds. */
  command: string[];
  cwd: string;
  /** NodejsFunction's `bundling.environment`. */
  environment: Record<string, string>;
  /** The PATH the command ran with (it names `esbuild` by name). */
  searchPath: string;
  /** The directory the command wrote to (since staged into the assembly as an asset). */
  outputDir: string;
  outputFile: string;
  outputSha256: string;
  /** Every file esbuild read into the bundle (its metafile's inputs), absolute. */
  inputs: string[];
}

/** A bundle built with command hooks, pre-compilation or node modules: steps the runtime does not repeat. */
export interface OpaqueBundle {
  rebuildable: false;
  /** The construct path of the function's scope. */
  scope: string;
}

/** What the CDK app's process read during a synth, as local/cdk/synth-recorder.cjs reports it. */
export interface SynthRecording {
  /** Every module the app loaded (its own sources, aws-cdk-lib, the TypeScript loader). */
  modules: string[];
  bundles: (EsbuildBundle | OpaqueBundle)[];
}

const RECORDER = path.join(__dirname, 'synth-recorder.cjs');

/**
 * Synthesizes the project's CDK app with the CDK CLI, as `cdk synth` and `cdk deploy` would (the
 * app command, cdk.json and its context all apply), into `outputDir`, leaving `cdk.out` alone.
 * Resolves to what the app read, or undefined where its process reported nothing (an app not
 * written for Node.js, say).
 */
export async function synthesize({ projectDir, outputDir, context }: SynthRequest): Promise<SynthRecording | undefined> {
  const cli = require.resolve('aws-cdk/bin/cdk', { paths: [projectDir, __dirname] });
  const args = [cli, 'synth', '--quiet', '--no-notices', '--output', outputDir];
  for (const [key, value] of Object.entries(context)) args.push('--context', `${key}=${value}`);
  const recordDir = mkdtempSync(`${outputDir}.record-`);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: projectDir,
        env: {
          ...process.env,
          CDK_DISABLE_CLI_TELEMETRY: 'true',
          NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${JSON.stringify(RECORDER)}`.trim(),
          WS_NOTIFY_SYNTH_RECORD: recordDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`cdk synth failed (exit ${code}):\n${output.trim()}`));
      });
    });
    const reports = readdirSync(recordDir)
      .filter((name) => /^\d+\.json$/.test(name))
      .map((name) => JSON.parse(readFileSync(path.join(recordDir, name), 'utf8')) as SynthRecording);
    if (reports.length === 0) return undefined;
    return { modules: reports.flatMap((report) => report.modules), bundles: reports.flatMap((report) => report.bundles) };
  } finally {
    rmSync(recordDir, { recursive: true, force: true });
  }
}

/** The directories `cdk watch` would watch: each pattern of cdk.json's `watch.include` up to its first wildcard. */
export function watchedDirectories(projectDir: string): string[] {
  const config = JSON.parse(readFileSync(path.join(projectDir, 'cdk.json'), 'utf8')) as { watch?: { include?: string[] } };
  const include = config.watch?.include ?? ['**'];
  const prefix = (pattern: string) => {
    const segments = pattern.split('/');
    const wildcard = segments.findIndex((segment) => /[*?[{]/.test(segment));
    return wildcard < 0 ? path.dirname(pattern) : segments.slice(0, wildcard).join('/');
  };
  return [...new Set(include.map((pattern) => path.resolve(projectDir, prefix(pattern))))];
}
