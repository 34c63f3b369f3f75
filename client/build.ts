// `npm run build` in client/ (or `npx tsx client/build.ts [outDir]` from the root): the JavaScript with
// esbuild, the type declarations with tsc, both from the repository's own dependencies.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { buildClient } from './bundle';

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? path.join(__dirname, 'dist'));
  const size = await buildClient(outDir);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(__dirname, 'tsconfig.json'), '--outDir', outDir], { stdio: 'inherit' });
  console.log(`built ${outDir}: the browser bundle is ${size.minifiedBytes} B minified, ${size.gzippedBytes} B min+gzip`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
