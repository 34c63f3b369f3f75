import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LOCAL_AUDIENCE } from '../../local/dev-endpoints/issuer';
import { type SynthRecording, synthesize } from '../../local/cdk/synth';
import { forgetSynthInputs, recordSynthInputs, reusableSynth, type SynthSettings } from '../../local/cdk/synth-inputs';

/**
 * One synth of a project per context, shared by the e2e files that run it: the first file that needs
 * it synthesizes and bundles (a lock makes a second jest worker wait for it rather than do the same),
 * the others copy the assembly into their own state directory. The dev loop's reuse record (the
 * inputs file `npm start` keeps next to its assembly) says when the synth is still good, in this run
 * and the next; a source edited since makes the next file synthesize again.
 */

/** Where the shared synths are kept between files and runs (`.local/` is the runtime's own, ignored by git). */
const CACHE_DIR = path.join(__dirname, '..', '..', '.local', 'e2e-synths');

/** The issuer the shared synth names; each copy names its own runtime's instead (see {@link placeSharedSynth}). */
const SHARED_ISSUER = 'http://127.0.0.1:1/issuer';

/** How long a worker waits for another that is synthesizing the same app (a cold synth on a busy machine). */
const LOCK_TIMEOUT_MS = 10 * 60_000;

export interface SharedSynth {
  assemblyDir: string;
  recording: SynthRecording;
}

export interface SharedSynthRequest {
  projectDir: string;
  stackName?: string;
  /** The context the test starts the runtime with (the runtime adds the issuer's). */
  context: Record<string, string>;
}

/** The runtime's settings for a synth whose issuer is `issuerUrl`, as local/runtime.ts makes them. */
function settingsOf({ projectDir, stackName, context }: SharedSynthRequest, assemblyDir: string, issuerUrl: string): SynthSettings {
  return {
    projectDir,
    assemblyDir,
    ...(stackName !== undefined && { stackName }),
    context: { ...context, jwtIssuer: issuerUrl, jwtAudience: LOCAL_AUDIENCE },
  };
}

/**
 * The project's synth with this context, made now if there is none or its reuse record says
 * something it read has changed; undefined where the synth cannot be reused at all (the runtime
 * then synthesizes on its own, as `npm start` would).
 */
export async function sharedSynth(request: SharedSynthRequest): Promise<SharedSynth | undefined> {
  const key = createHash('sha256')
    .update(JSON.stringify([request.projectDir, request.stackName ?? null, Object.entries(request.context).sort()]))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(CACHE_DIR, key);
  const assemblyDir = path.join(dir, 'cdk.out');
  const recordingFile = `${assemblyDir}.recording.json`;
  const settings = settingsOf(request, assemblyDir, SHARED_ISSUER);
  mkdirSync(dir, { recursive: true });
  const release = await lock(`${dir}.lock`);
  try {
    if ('inputs' in reusableSynth(settings) && existsSync(recordingFile)) {
      return { assemblyDir, recording: JSON.parse(readFileSync(recordingFile, 'utf8')) as SynthRecording };
    }
    forgetSynthInputs(assemblyDir);
    rmSync(recordingFile, { force: true });
    rmSync(assemblyDir, { recursive: true, force: true });
    const recording = await synthesize({ projectDir: request.projectDir, outputDir: assemblyDir, context: settings.context });
    if (!recording || !('inputs' in recordSynthInputs(settings, recording))) return undefined;
    writeFileSync(recordingFile, JSON.stringify(recording));
    return { assemblyDir, recording };
  } finally {
    release();
  }
}

/**
 * Copies the shared synth into `<stateDir>/cdk.out` as the runtime at `issuerUrl` would have
 * synthesized it, with the reuse record that lets the runtime run it instead of synthesizing. The
 * issuer's URL (the runtime's port) is the only input the copies differ in, and the template's
 * functions' JWT_ISSUER and JWKS_URI are the only places it reaches: it is replaced there (and in
 * the assembly's other JSON files, which the runtime does not read).
 */
export function placeSharedSynth(shared: SharedSynth, request: SharedSynthRequest, stateDir: string, issuerUrl: string): void {
  const assemblyDir = path.join(stateDir, 'cdk.out');
  rmSync(assemblyDir, { recursive: true, force: true });
  cpSync(shared.assemblyDir, assemblyDir, { recursive: true });
  for (const name of readdirSync(assemblyDir)) {
    if (!name.endsWith('.json')) continue;
    const file = path.join(assemblyDir, name);
    const text = readFileSync(file, 'utf8');
    if (text.includes(SHARED_ISSUER)) writeFileSync(file, text.replaceAll(SHARED_ISSUER, issuerUrl));
  }
  const recorded = recordSynthInputs(settingsOf(request, assemblyDir, issuerUrl), shared.recording);
  if ('reason' in recorded) throw new Error(`the shared synth's copy cannot be reused: ${recorded.reason}`);
}

/** Takes an exclusive lock (a directory only one process can create); resolves to its release. */
async function lock(lockDir: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      return () => rmSync(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!holderIsAlive(lockDir)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir} (another jest worker synthesizing)`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** False once the process that took the lock has exited without releasing it (killed mid-synth, say). */
function holderIsAlive(lockDir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(lockDir, 'pid'), 'utf8'));
  } catch {
    // Taken this instant, its pid not written yet; or by a process that died before it wrote it.
    try {
      return Date.now() - statSync(lockDir).mtimeMs < 10_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
