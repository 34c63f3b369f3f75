// The benchmark's WebSocket clients, in a process of their own: the runtime under test keeps its
// event loop (and its memory figure) to itself, as it would with remote clients. Driven over IPC by
// bench/clients/fleet.ts; records, per run, the latency of every notification frame it receives.
import WebSocket from 'ws';
import type { FleetReply, FleetRequest, RunRecord, SocketSpec } from './fleet-protocol';

const now = () => performance.timeOrigin + performance.now();

interface Run {
  deliveries: number;
  duplicates: number;
  latencies: number[];
  seen: Set<string>;
  firstAt: number;
  lastAt: number;
  frameBytes: number;
}

const sockets: WebSocket[] = [];
const runs = new Map<string, Run>();
const closeCodes: Record<string, number> = {};

function onFrame(socketIndex: number, data: Buffer): void {
  const receivedAt = now();
  const text = data.toString('utf8');
  if (!text.includes('"run"')) return;
  let frame: { type?: string; data?: { run?: string; seq?: number; sentAt?: number } };
  try {
    frame = JSON.parse(text);
  } catch {
    return;
  }
  const run = frame.type === 'notification' && frame.data?.run ? runs.get(frame.data.run) : undefined;
  if (!run || typeof frame.data?.sentAt !== 'number') return;
  const key = `${frame.data.seq}:${socketIndex}`;
  if (run.seen.has(key)) {
    run.duplicates += 1;
    return;
  }
  run.seen.add(key);
  run.deliveries += 1;
  run.latencies.push(receivedAt - frame.data.sentAt);
  run.firstAt = Math.min(run.firstAt, receivedAt);
  run.lastAt = Math.max(run.lastAt, receivedAt);
  run.frameBytes += data.length;
}

function open(spec: SocketSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(spec.url, { headers: spec.headers ?? {}, perMessageDeflate: false, handshakeTimeout: 30_000 });
    socket.once('open', () => {
      const index = sockets.push(socket) - 1;
      socket.on('message', (data: Buffer) => onFrame(index, data));
      socket.once('close', (code: number) => (closeCodes[code] = (closeCodes[code] ?? 0) + 1));
      resolve();
    });
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`upgrade refused with HTTP ${response.statusCode}`));
    });
    socket.once('error', reject);
  });
}

async function connect(specs: SocketSpec[], concurrency: number, requestId: number): Promise<{ opened: number; failed: number; errors: string[] }> {
  let next = 0;
  let opened = 0;
  let failed = 0;
  const errors: string[] = [];
  const progress = setInterval(() => send({ id: requestId, progress: { opened, failed } }), 250);
  const worker = async () => {
    while (next < specs.length) {
      const spec = specs[next++] as SocketSpec;
      try {
        await open(spec);
        opened += 1;
      } catch (error) {
        failed += 1;
        if (errors.length < 5) errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  clearInterval(progress);
  return { opened, failed, errors };
}

async function closeAll(): Promise<number> {
  const open = sockets.filter((socket) => socket.readyState === WebSocket.OPEN);
  const closed = Promise.all(open.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()))));
  for (const socket of open) socket.close(1000);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  for (const socket of sockets) socket.terminate();
  sockets.length = 0;
  return open.length;
}

function take(runId: string): RunRecord {
  const run = runs.get(runId);
  runs.delete(runId);
  if (!run) return { deliveries: 0, duplicates: 0, latencies: new Float64Array(0), firstAt: 0, lastAt: 0, frameBytes: 0 };
  const { seen: _seen, latencies, ...counts } = run;
  return { ...counts, latencies: Float64Array.from(latencies) };
}

async function handle(request: FleetRequest): Promise<unknown> {
  switch (request.method) {
    case 'clock':
      return now();
    case 'connect':
      return connect(request.sockets, request.concurrency, request.id);
    case 'track':
      runs.set(request.runId, { deliveries: 0, duplicates: 0, latencies: [], seen: new Set(), firstAt: Infinity, lastAt: 0, frameBytes: 0 });
      return null;
    case 'status': {
      const run = runs.get(request.runId);
      return { deliveries: run?.deliveries ?? 0, duplicates: run?.duplicates ?? 0, lastAt: run?.lastAt ?? 0 };
    }
    case 'take':
      return take(request.runId);
    case 'census':
      return {
        open: sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length,
        closeCodes,
        rssMb: process.memoryUsage().rss / 1024 / 1024,
      };
    case 'closeAll':
      return closeAll();
  }
}

function send(reply: FleetReply): void {
  process.send?.(reply);
}

process.on('message', (request: FleetRequest) => {
  handle(request).then(
    (result) => send({ id: request.id, result }),
    (error: unknown) => send({ id: request.id, error: String((error as Error)?.message ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
