import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { browserBundle, buildClient } from '../bundle';

/** The budget for the browser bundle, min+gzip. */
const BROWSER_BUDGET_BYTES = 6 * 1024;

let outDir: string;
let size: Awaited<ReturnType<typeof buildClient>>;

beforeAll(async () => {
  outDir = mkdtempSync(path.join(tmpdir(), 'ws-notify-client-'));
  size = await buildClient(outDir);
}, 60_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

it(`keeps the browser bundle within ${BROWSER_BUDGET_BYTES} bytes min+gzip, built from the package's own sources alone`, async () => {
  expect(size.gzippedBytes).toBeLessThanOrEqual(BROWSER_BUDGET_BYTES);
  const { inputs } = await browserBundle();
  const sources = path.join(__dirname, '..', 'src') + path.sep;
  expect(inputs.filter((input) => !input.startsWith(sources))).toEqual([]);
  expect(readFileSync(path.join(outDir, 'ws-notify.min.js'), 'utf8')).toMatch(/^"use strict";var WsNotify=/);
});

it('builds an ES module and a CommonJS module that Node loads', () => {
  expect(readFileSync(path.join(outDir, 'index.mjs'), 'utf8')).toMatch(/^export \{[^}]*createClient/m);
  const loaded = require(path.join(outDir, 'index.cjs')) as Record<string, unknown>;
  expect(Object.keys(loaded).sort()).toEqual(['WsNotifyError', 'createClient']);
  expect(() => (loaded['createClient'] as (options: object) => unknown)({ url: 'ws://127.0.0.1:9', anonymous: true })).toThrow(
    'no global WebSocket',
  );
});
