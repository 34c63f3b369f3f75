import { createHash } from 'node:crypto';
import { type Dirent, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { readSynthesizedStack, resourcesOfType } from '../cloudformation/cloud-assembly';
import { type EsbuildBundle, type SynthRecording, watchedDirectories } from './synth';

/** A NodejsFunction bundle of the running app: how to build it again, and which functions run it. */
export interface FunctionBundle extends EsbuildBundle {
  /** Where its current build is: the assembly's asset directory, or the runtime's latest rebuild. */
  codeDir: string;
  /** The template's functions that run it, by logical id (identical bundles are one asset). */
  functionLogicalIds: string[];
}

/**
 * Everything the last synth read, each file with its digest: stored next to the assembly, it lets
 * the next start reuse the synth while every digest still matches.
 */
export interface SynthInputs {
  schema: 1;
  /** The context, the stack, the Node.js, CDK and esbuild versions and the CDK's environment variables. */
  settings: string;
  /** sha256 of each file the synth read or may have read, by absolute path ('missing' for an absent one). */
  files: Record<string, string>;
  /** The CDK app's own files (its modules, cdk.json, the lock file): an edit to one needs a synth. */
  appFiles: string[];
  bundles: FunctionBundle[];
}

/** What a synth is run with, besides the files it reads. */
export interface SynthSettings {
  projectDir: string;
  /** `<state dir>/cdk.out`: the state directory is not an input, wherever it is. */
  assemblyDir: string;
  stackName?: string;
  context: Record<string, string>;
}

/** Files of a CDK project that every synth depends on, whether or not the app loads them. */
const PROJECT_FILES = ['cdk.json', 'cdk.context.json', 'package.json', 'package-lock.json', 'tsconfig.json'];

const MISSING = 'missing';

/** The file beside the assembly that holds its inputs. */
export function inputsFileOf(assemblyDir: string): string {
  return `${assemblyDir}.inputs.json`;
}

/**
 * The inputs of the assembly's synth if nothing it read has changed since, so that it can be run
 * again as it is; otherwise why not. Anything it cannot vouch for counts as a change.
 */
export function reusableSynth(settings: SynthSettings): { inputs: SynthInputs } | { reason: string } {
  let inputs: SynthInputs;
  try {
    inputs = JSON.parse(readFileSync(inputsFileOf(settings.assemblyDir), 'utf8')) as SynthInputs;
  } catch {
    return { reason: 'no record of the last synth' };
  }
  if (inputs.schema !== 1 || inputs.settings !== settingsKey(settings)) return { reason: 'the context, stack, tools or CDK environment differ' };
  const added = projectSources(settings).find((file) => !(file in inputs.files));
  if (added) return { reason: `${displayPath(settings.projectDir, added)} is new` };
  const changed = Object.entries(inputs.files).find(([file, digest]) => digestOf(file) !== digest);
  if (changed) return { reason: `${displayPath(settings.projectDir, changed[0])} changed` };
  return { inputs };
}

/**
 * Records what a synth just read, next to its assembly, for the next start; resolves to the
 * inputs, or to why the synth cannot be reused (a bundle built by steps the runtime does not
 * know, a function whose code is not a recorded bundle), in which case nothing is stored.
 */
export function recordSynthInputs(settings: SynthSettings, recording: SynthRecording | undefined): { inputs: SynthInputs } | { reason: string } {
  if (!recording) return { reason: "the CDK app's process reported nothing of what it read (an app not run by Node.js?)" };
  const opaque = recording.bundles.find((bundle) => !bundle.rebuildable);
  if (opaque) return { reason: `a NodejsFunction in ${opaque.scope} bundles with command hooks, pre-compilation or node modules` };
  const esbuildBundles = recording.bundles.filter((bundle): bundle is EsbuildBundle => bundle.rebuildable);
  const stack = readSynthesizedStack(settings.assemblyDir, settings.stackName);
  const bundles = new Map<string, FunctionBundle>();
  for (const [logicalId, resource] of resourcesOfType(stack, 'AWS::Lambda::Function')) {
    const code = (resource.Properties?.['Code'] ?? {}) as { S3Key?: unknown; ZipFile?: unknown };
    // Inline code is part of the template, which the app's own files determine.
    if (code.ZipFile !== undefined) continue;
    const codeDir = typeof code.S3Key === 'string' ? stack.assetDirectories.get(code.S3Key) : undefined;
    if (!codeDir) return { reason: `function ${logicalId} has no file asset the runtime can read` };
    const matches = esbuildBundles.filter((bundle) => digestOf(path.join(codeDir, bundle.outputFile)) === bundle.outputSha256);
    const commands = new Set(matches.map((bundle) => JSON.stringify([bundle.cwd, bundle.command])));
    const [match] = matches;
    if (!match) return { reason: `function ${logicalId}'s code is not a NodejsFunction bundle (Code.fromAsset?), so its sources are unknown` };
    if (commands.size > 1) return { reason: `function ${logicalId}'s bundle is made by ${commands.size} different esbuild commands` };
    const bundle = bundles.get(codeDir) ?? { ...match, codeDir, functionLogicalIds: [] };
    bundle.functionLogicalIds.push(logicalId);
    bundles.set(codeDir, bundle);
  }
  const appFiles = [...new Set([...PROJECT_FILES.map((file) => path.join(settings.projectDir, file)), ...recording.modules])];
  const bundleOutputs = [...bundles.values()].map((bundle) => path.join(bundle.codeDir, bundle.outputFile));
  const files = [
    ...appFiles,
    ...projectSources(settings),
    ...[...bundles.values()].flatMap((bundle) => bundle.inputs),
    path.join(settings.assemblyDir, 'manifest.json'),
    ...bundleOutputs,
    path.join(homedir(), '.cdk.json'),
  ];
  const inputs: SynthInputs = {
    schema: 1,
    settings: settingsKey(settings),
    files: Object.fromEntries([...new Set(files)].map((file) => [file, digestOf(file)])),
    appFiles,
    bundles: [...bundles.values()],
  };
  writeFileSync(inputsFileOf(settings.assemblyDir), `${JSON.stringify(inputs)}\n`);
  return { inputs };
}

/** Forgets the last synth's inputs: done before a synth, which may fail half way. */
export function forgetSynthInputs(assemblyDir: string): void {
  rmSync(inputsFileOf(assemblyDir), { force: true });
}

/** sha256 of a file's content, or 'missing'. */
export function digestOf(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return MISSING;
  }
}

/** A file's path as the project's user knows it. */
export function displayPath(projectDir: string, file: string): string {
  const relative = path.relative(projectDir, file);
  return relative.startsWith('..') ? file : relative;
}

/**
 * The context, stack, tool versions and environment a synth ran with, as one string. The CDK
 * reads CDK_* variables and the AWS region and profile; other variables an app reads are not
 * seen here (pass such settings as context, or start with --synth).
 */
function settingsKey({ projectDir, stackName, context }: SynthSettings): string {
  const version = (name: string) => {
    try {
      const file = require.resolve(`${name}/package.json`, { paths: [projectDir, __dirname] });
      return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      return MISSING;
    }
  };
  const environment = Object.entries(process.env)
    .filter(([name]) => name.startsWith('CDK_') || ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE'].includes(name))
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify({
    stackName: stackName ?? null,
    context: Object.entries(context).sort(([a], [b]) => a.localeCompare(b)),
    node: process.version,
    tools: ['aws-cdk', 'aws-cdk-lib', 'esbuild'].map((name) => [name, version(name)]),
    environment,
  });
}

/** Every file under the directories cdk.json's `watch.include` names, but dependencies, dot-files and output. */
function projectSources({ projectDir, assemblyDir }: SynthSettings): string[] {
  const skipped = new Set([path.join(projectDir, 'cdk.out'), path.dirname(assemblyDir)]);
  const files: string[] = [];
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith('.') || entry.name === 'node_modules' || skipped.has(full)) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  for (const dir of watchedDirectories(projectDir)) {
    if (existsSync(dir)) walk(dir);
  }
  return [...new Set(files)];
}
