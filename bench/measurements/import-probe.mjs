// Loads one function bundle in a fresh process, as a Lambda cold start does (the Node.js runtime
// require()s a CommonJS handler file), and prints how long loading and initializing it took.
// Plain JavaScript run by plain `node`, so that no TypeScript loader is part of what is timed.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const file = process.argv[2];
const require = createRequire(import.meta.url);
const heapBefore = process.memoryUsage().heapUsed;
const cpuBefore = process.cpuUsage();
const started = performance.now();
const loaded = require(file);
const importMs = performance.now() - started;
// CPU time too: on a shared machine it moves less than wall time when other work competes.
const cpu = process.cpuUsage(cpuBefore);
const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
process.stdout.write(`${JSON.stringify({ importMs, cpuMs: (cpu.user + cpu.system) / 1000, heapMb, exports: Object.keys(loaded) })}\n`);
