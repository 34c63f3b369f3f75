// Derives the cost model and the targets again from the measurements in latest.json (with the
// current bench/cost/prices.json), and renders latest.html and latest.md, without running anything:
//   npx tsx bench/report/render.ts [results directory, default bench/results]
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderHtml } from './report-html';
import { renderMarkdown } from './report-markdown';
import { analyse, type BenchResults } from './results';
import type { Prices } from '../cost/cost-model';

const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'results'));
const results = JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8')) as BenchResults;
const prices = JSON.parse(readFileSync(path.join(__dirname, '..', 'cost', 'prices.json'), 'utf8')) as Prices & { lookedUp: string };
analyse(results, prices);
writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(path.join(dir, 'latest.html'), renderHtml(results));
writeFileSync(path.join(dir, 'latest.md'), renderMarkdown(results));
console.log(`analysed and rendered ${path.join(dir, 'latest.{json,html,md}')}`);
