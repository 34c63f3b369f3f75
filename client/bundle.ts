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

/**
 * The minified browser bundle (a script defining the global `WsNotify`), in memory, with the files it
 * was built from. Built as an ES module whose export list becomes the global: esbuild's `iife` with a
 * `globalName` adds CommonJS interop helpers (about 200 B min+gzip) that a script's global never uses.
 */
export async function browserBundle(): Promise<{ code: Uint8Array; size: BrowserBundleSize; inputs: string[] }> {
  const result = await build({ ...COMMON, format: 'esm', platform: 'browser', minify: true, write: false, metafile: true, outfile: 'ws-notify.min.js' });
  const module = new TextDecoder().decode((result.outputFiles ?? [])[0]?.contents);
  const exported = /export\{([^}]*)\};?\s*$/.exec(module);
  if (exported === null) throw new Error('the browser bundle ends with no export list to make the WsNotify global of');
  const members = (exported[1] ?? '').split(',').map((member) => {
    const [local, name = local] = member.split(' as ');
    return `${name}:${local}`;
  });
  const code = new TextEncoder().encode(`"use strict";var WsNotify=(()=>{${module.slice(0, exported.index)}return{${members.join(',')}}})();\n`);
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
