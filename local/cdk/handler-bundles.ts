import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { digestOf, displayPath, type FunctionBundle, type SynthInputs } from './synth-inputs';

/** What an edit to the project's files needs. */
export type ChangePlan =
  | { kind: 'unchanged' }
  /** Handler code only: build these bundles again and run them, with no synth. */
  | { kind: 'rebuild'; bundles: FunctionBundle[]; digests: Map<string, string> }
  | { kind: 'synth'; reason: string };

/**
 * Decides what changed files need, from what the running app's synth read: a file of the CDK app
 * itself (its modules, cdk.json, the lock file), a file no bundle includes (a new one, say), or
 * any doubt needs a synth; files only bundles include need those bundles rebuilt. Files whose
 * content is what the app runs already (saved unchanged, or an editor's passing temporary file)
 * need nothing.
 */
export function planChange(inputs: SynthInputs | undefined, changed: Iterable<string>, projectDir: string): ChangePlan {
  // Taken before any rebuild, so that an edit made while it runs is seen as one.
  const digests = new Map([...changed].map((file) => [file, digestOf(file)]));
  const files = [...digests.keys()].filter((file) => digests.get(file) !== (inputs?.files[file] ?? 'missing'));
  if (files.length === 0) return { kind: 'unchanged' };
  const name = (file: string) => displayPath(projectDir, file);
  if (!inputs) return { kind: 'synth', reason: `${name(files[0] as string)} changed, and the last synth's inputs are not known` };
  const appFile = files.find((file) => inputs.appFiles.includes(file));
  if (appFile) return { kind: 'synth', reason: `${name(appFile)} is part of the CDK app` };
  const bundles = new Set<FunctionBundle>();
  for (const file of files) {
    const including = inputs.bundles.filter((bundle) => bundle.inputs.includes(file));
    if (including.length === 0) return { kind: 'synth', reason: `no bundle includes ${name(file)}` };
    for (const bundle of including) bundles.add(bundle);
  }
  return { kind: 'rebuild', bundles: [...bundles], digests };
}

/**
 * Builds the bundle again into `outputDir` with the esbuild command the synth ran; resolves to the
 * files it now includes (an edit may import new ones). Rejects with esbuild's output if it fails.
 */
export async function rebuildBundle(bundle: FunctionBundle, outputDir: string): Promise<string[]> {
  rmSync(outputDir, { recursive: true, force: true });
  mkdirSync(outputDir, { recursive: true });
  const [runner, ...esbuildArgs] = bundle.command.map((arg) => arg.split(bundle.outputDir).join(outputDir));
  // The app's own `bundling.metafile` is written into the bundle; otherwise one is asked for beside it.
  const ownMetafile = esbuildArgs.find((arg) => arg.startsWith('--metafile='))?.slice('--metafile='.length);
  const metafile = ownMetafile ? path.resolve(bundle.cwd, ownMetafile) : `${outputDir}.meta.json`;
  await run(runner as string, ownMetafile ? esbuildArgs : [...esbuildArgs, `--metafile=${metafile}`], bundle);
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as { inputs: Record<string, unknown> };
  if (!ownMetafile) rmSync(metafile, { force: true });
  return Object.keys(meta.inputs).map((input) => path.resolve(bundle.cwd, input));
}

/**
 * Makes the inputs describe what runs after a rebuild: the bundle's new build and files, the
 * digests the edited files had when the rebuild started, and those of files it now includes.
 */
export function recordRebuild(inputs: SynthInputs, bundle: FunctionBundle, codeDir: string, bundleInputs: string[], digests: Map<string, string>): void {
  bundle.codeDir = codeDir;
  bundle.inputs = bundleInputs;
  for (const [file, digest] of digests) inputs.files[file] = digest;
  for (const file of bundleInputs) inputs.files[file] ??= digestOf(file);
}

function run(command: string, args: string[], bundle: FunctionBundle): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: bundle.cwd,
      env: { ...process.env, PATH: bundle.searchPath, ...bundle.environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`esbuild failed (exit ${code}):\n${output.trim()}`))));
  });
}
