import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

const ENTRY = path.join(__dirname, 'src', 'index.ts');
const COMMON: BuildOptions = { entryPoints: [ENTRY], bundle: true, target: 'es2022', logLevel: 'warning', legalComments: 'none' };

export interface BrowserBundleSize {
  minifiedBytes: number;
  /** Gzipped at level 9, as CDNs serve it. */
  gzippedBytes: number;
}

/** The minified browser bundle (an IIFE defining the global `WsNotify`), in memory, with the files it was built from. */
export async function browserBundle(): Promise<{ code: Uint8Array; size: BrowserBundleSize; inputs: string[] }> {
  const result = await build({ ...COMMON, format: 'iife', globalName: 'WsNotify', platform: 'browser', minify: true, write: false, metafile: true, outfile: 'ws-notify.min.js' });
  const code = (result.outputFiles ?? [])[0]?.contents ?? new Uint8Array();
  const inputs = Object.keys(result.metafile?.inputs ?? {}).map((input) => path.resolve(input));
  return { code, inputs, size: { minifiedBytes: code.byteLength, gzippedBytes: gzipSync(code, { level: 9 }).byteLength } };
}

/** The package's JavaScript in `outDir`: index.mjs and index.cjs (unminified, for bundlers and Node) and ws-notify.min.js (for a <script> tag). */
export async function buildClient(outDir: string): Promise<BrowserBundleSize> {
  await Promise.all([
    build({ ...COMMON, format: 'esm', platform: 'neutral', outfile: path.join(outDir, 'index.mjs') }),
    build({ ...COMMON, format: 'cjs', platform: 'node', outfile: path.join(outDir, 'index.cjs') }),
  ]);
  const { code, size } = await browserBundle();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'ws-notify.min.js'), code);
  return size;
}
