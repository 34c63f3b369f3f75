import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface SynthRequest {
  projectDir: string;
  outputDir: string;
  context: Record<string, string>;
}

/**
 * Synthesizes the project's CDK app with the CDK CLI, as `cdk synth` and `cdk deploy` would (the
 * app command, cdk.json and its context all apply), into `outputDir`, leaving `cdk.out` alone.
 */
export function synthesize({ projectDir, outputDir, context }: SynthRequest): Promise<void> {
  const cli = require.resolve('aws-cdk/bin/cdk', { paths: [projectDir, __dirname] });
  const args = [cli, 'synth', '--quiet', '--no-notices', '--output', outputDir];
  for (const [key, value] of Object.entries(context)) args.push('--context', `${key}=${value}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: projectDir,
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
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
}

/** The directories `cdk watch` would watch: the top folders of cdk.json's `watch.include`. */
export function watchedDirectories(projectDir: string): string[] {
  const config = JSON.parse(readFileSync(path.join(projectDir, 'cdk.json'), 'utf8')) as { watch?: { include?: string[] } };
  const include = config.watch?.include ?? ['**'];
  return [...new Set(include.map((pattern) => pattern.split('/')[0] ?? '.').map((dir) => (dir.includes('*') ? '.' : dir)))].map((dir) =>
    path.join(projectDir, dir),
  );
}
