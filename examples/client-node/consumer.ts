// A Node consumer on the client SDK: receives a user's notifications and a topic's events, and
// keeps its stream positions in a file, so that a restart resumes where it stopped (on a stack that
// keeps streams). See README.md beside it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
// In an application: import { createClient } from '@ws-notify/client';
import { createClient, type ResumePosition } from '../../client/src';

const url = process.env['WS_NOTIFY_URL'];
const apiKey = process.env['WS_NOTIFY_API_KEY'];
const topic = process.argv[2];
const positionsFile = process.env['WS_NOTIFY_POSITIONS'] ?? 'positions.json';
if (url === undefined || apiKey === undefined) {
  console.error('set WS_NOTIFY_URL (the stack\u2019s WebSocketUrl) and WS_NOTIFY_API_KEY (ws-notify apikey create --user <id>)');
  process.exit(2);
}

const positions = existsSync(positionsFile) ? (JSON.parse(readFileSync(positionsFile, 'utf8')) as Record<string, ResumePosition>) : {};
// Node 20 has no global WebSocket: `ws` also sends the key in a header rather than the URL.
const client = createClient({ url, apiKey, WebSocket, positions });

client.on('state', (state) => console.error(`[${state}]`));
client.on('notification', (notification) => console.log('notification', notification.seq ?? '-', JSON.stringify(notification.data)));
client.on('recovered', ({ stream, from, to }) => console.error(`recovered ${stream}: ${from}..${to}`));
client.on('gap', (gap) => console.error(`gap in ${gap.stream} after ${gap.lastSeq} (${gap.reason}): refetch from the source of truth`));
client.on('error', (error) => {
  console.error(`${error.fatal ? 'stopped' : 'error'}: ${error.code}: ${error.message}`);
  if (error.fatal) process.exitCode = 1;
});
if (topic !== undefined) {
  client.subscribe(topic).on('event', ({ event, seq }) => console.log('event', seq ?? '-', event.type, JSON.stringify(event.data)));
}

// Positions are what the listeners above have handled: saving them after the fact repeats a
// message after a crash rather than losing one. Written whole, then renamed.
const save = () => {
  writeFileSync(`${positionsFile}.tmp`, JSON.stringify(client.positions()));
  renameSync(`${positionsFile}.tmp`, positionsFile);
};
const saver = setInterval(save, 1_000);
const stop = async () => {
  clearInterval(saver);
  await client.close();
  save();
};
process.once('SIGINT', stop).once('SIGTERM', stop);
