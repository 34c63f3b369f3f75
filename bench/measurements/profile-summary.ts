// Where the CPU went in a profiled benchmark run, by thread and by package:
//
//   node --cpu-prof --cpu-prof-dir=/tmp/bench-profile --import tsx bench/run.ts --quick --only e2e
//   npx tsx bench/measurements/profile-summary.ts /tmp/bench-profile
//
// Node writes one .cpuprofile per thread and process: the main thread (gateway, management API,
// pollers, the benchmark's own sends) and each function's execution environments (a process each,
// which --cpu-prof extends to). A function
// bundle is minified, so its frames are mapped back to their sources through a source map of the same
// bundle, rebuilt here with the options NodejsFunction uses (the output is byte-identical).
import { readdirSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import * as path from 'node:path';
import { build } from 'esbuild';
import { nodejsFunctionBuildOptions } from './bundles';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface BuiltHandler {
  name: string;
  text: string;
  map: SourceMap;
}

const HANDLERS_DIR = path.join(__dirname, '..', '..', 'lambdas', 'handlers');

async function buildHandlers(): Promise<BuiltHandler[]> {
  const handlers: BuiltHandler[] = [];
  for (const file of readdirSync(HANDLERS_DIR).filter((name) => name.endsWith('.ts'))) {
    const result = await build({ ...nodejsFunctionBuildOptions(path.join(HANDLERS_DIR, file)), sourcemap: 'external', outfile: '/bench-profile/index.js' });
    const js = result.outputFiles?.find((output) => output.path.endsWith('.js'))?.text ?? '';
    const map = result.outputFiles?.find((output) => output.path.endsWith('.map'))?.text ?? '{}';
    handlers.push({ name: file.replace(/\.ts$/, ''), text: js.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'), map: new SourceMap(JSON.parse(map) as SourceMapPayload) });
  }
  return handlers;
}

/** Which handler a profiled bundle is: the one whose text has the profile's named functions where the profile says. */
function identify(frames: ProfileNode['callFrame'][], handlers: BuiltHandler[]): BuiltHandler | undefined {
  const named = frames.filter((frame) => frame.functionName.length > 3).slice(0, 200);
  let best: { handler?: BuiltHandler; score: number } = { score: 0 };
  for (const handler of handlers) {
    const lines = handler.text.split('\n');
    const score = named.filter((frame) => {
      const line = lines[frame.lineNumber] ?? '';
      return line.slice(Math.max(0, frame.columnNumber - frame.functionName.length - 10), frame.columnNumber + 10).includes(frame.functionName);
    }).length;
    if (score > best.score) best = { handler, score };
  }
  return best.handler;
}

function packageOf(source: string): string {
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source)?.[1];
  if (module) return module;
  if (source.includes('/lambdas/')) return '(ws-notify lambdas)';
  if (source.includes('/local/')) return '(local runtime)';
  if (source.includes('/bench/')) return '(bench)';
  if (source.startsWith('node:')) return '(node internals)';
  return source === '' ? '(native)' : source;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: npx tsx bench/measurements/profile-summary.ts <directory of .cpuprofile files>');
  const handlers = await buildHandlers();
  const groups = new Map<string, { threads: number; busyMs: number; byPackage: Map<string, number> }>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const bundleFrames = profile.nodes.map((node) => node.callFrame).filter((frame) => /asset\.[0-9a-f]+\/index\.js$/.test(frame.url));
    const handler = bundleFrames.length > 0 ? identify(bundleFrames, handlers) : undefined;
    const group = handler ? `function ${handler.name}` : /\.0\.001\.cpuprofile$/.test(file) ? 'main thread' : 'other threads';
    const entry = groups.get(group) ?? { threads: 0, busyMs: 0, byPackage: new Map<string, number>() };
    entry.threads += 1;
    profile.samples.forEach((sample, index) => {
      const frame = nodes.get(sample)?.callFrame;
      if (!frame || frame.functionName === '(idle)') return;
      const ms = (profile.timeDeltas[index] ?? 0) / 1000;
      entry.busyMs += ms;
      let where: string;
      if (frame.functionName === '(garbage collector)' || frame.functionName === '(program)') where = frame.functionName;
      else if (handler && /asset\.[0-9a-f]+\/index\.js$/.test(frame.url)) {
        const mapped = handler.map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string };
        where = packageOf(mapped.originalSource ?? '');
      } else where = packageOf(frame.url);
      entry.byPackage.set(where, (entry.byPackage.get(where) ?? 0) + ms);
    });
    groups.set(group, entry);
  }
  for (const [group, entry] of [...groups].sort((a, b) => b[1].busyMs - a[1].busyMs)) {
    console.log(`${group}: ${entry.threads} thread(s), ${(entry.busyMs / 1000).toFixed(1)} s busy`);
    const top = [...entry.byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10);
    for (const [where, ms] of top) console.log(`  ${((100 * ms) / entry.busyMs).toFixed(1).padStart(5)}%  ${where}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
