import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Timer } from '../src/clock';
import { Connection } from '../src/connection';
import * as phases from '../src/phase';
import { type Phase, type PhaseName, TRANSITIONS } from '../src/phase';
import { createClient, type WsNotifyClient } from '../src';
import { type ScriptedNodeSocket, scriptedServer } from './scripted-socket';

// Every phase change goes through leave(): recording its calls records the machine's path.
jest.mock('../src/phase', () => {
  const actual = jest.requireActual<typeof import('../src/phase')>('../src/phase');
  return { ...actual, leave: jest.fn(actual.leave) };
});
const leave = phases.leave as jest.MockedFunction<typeof phases.leave>;

const URL = 'wss://example.test/live';
let client: WsNotifyClient | undefined;

beforeEach(() => {
  jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z'), doNotFake: ['queueMicrotask'] });
  leave.mockClear();
});

afterEach(async () => {
  const closing = client?.close();
  await jest.runOnlyPendingTimersAsync();
  await closing;
  client = undefined;
  jest.useRealTimers();
});

const settle = () => jest.advanceTimersByTimeAsync(0);

/** The transitions taken so far, as `from → to`; each must be one of TRANSITIONS. */
function taken(): string[] {
  return leave.mock.calls.map(([from, to]) => {
    expect(TRANSITIONS[from.name]).toContain(to.name);
    return `${from.name} → ${to.name}`;
  });
}

async function start(options: { token?: () => Promise<string>; maxConnectionMs?: number } = {}) {
  const server = scriptedServer<ScriptedNodeSocket>();
  const states: string[] = [];
  client = createClient({ url: URL, WebSocket: server.WebSocket, random: () => 1, token: options.token ?? (async () => 'a.b.c'), ...(options.maxConnectionMs !== undefined && { maxConnectionMs: options.maxConnectionMs }) });
  client.on('state', (state) => states.push(state));
  await settle();
  return { client, server, states };
}

describe('the phases a client goes through', () => {
  it('connecting → open: the first attempt is a step within connecting, then the socket opens', async () => {
    const { server, states } = await start();
    server.latest.accept();
    expect(taken()).toEqual(['connecting → connecting', 'connecting → open']);
    expect(states).toEqual(['open']);
  });

  it('stays connecting while a failing token function is retried, then opens', async () => {
    let calls = 0;
    const { server, states } = await start({ token: async () => (++calls === 1 ? Promise.reject(new Error('down')) : 'a.b.c') });
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();
    expect(taken()).toEqual(['connecting → connecting', 'connecting → connecting', 'connecting → connecting', 'connecting → open']);
    expect(states).toEqual(['open']);
  });

  it('open → reconnecting when the socket is lost: the backoff is waited out within reconnecting, then open', async () => {
    const { server, states } = await start();
    server.latest.accept();
    server.latest.drop();
    await jest.advanceTimersByTimeAsync(500);
    server.latest.accept();
    expect(taken().slice(2)).toEqual(['open → reconnecting', 'reconnecting → reconnecting', 'reconnecting → open']);
    expect(states).toEqual(['open', 'reconnecting', 'open']);
  });

  it('open → handing over → open on the successor, which closes the replaced connection; the application sees open throughout', async () => {
    const { server, states } = await start({ maxConnectionMs: 100_000 });
    server.latest.accept();
    await jest.advanceTimersByTimeAsync(90_000);
    const [old, successor] = server.sockets;
    successor?.accept();
    await settle();
    expect(taken().slice(2)).toEqual(['open → handing over', 'handing over → open']);
    expect(old?.closedByClient).toBe(1000);
    expect(successor?.closedByClient).toBeUndefined();
    expect(states).toEqual(['open']);
  });

  it('handing over → open on the same connection when the successor fails, which carries on until the server closes it', async () => {
    const { server, states } = await start({ maxConnectionMs: 100_000 });
    server.latest.accept();
    await jest.advanceTimersByTimeAsync(90_000);
    const [old, successor] = server.sockets;
    successor?.drop();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(taken().slice(2)).toEqual(['open → handing over', 'handing over → open']);
    expect(server.sockets).toHaveLength(2);
    expect(old?.closedByClient).toBeUndefined();
    expect(states).toEqual(['open']);
  });

  it('handing over → open on the successor, with no backoff, when the server closes the old connection after the successor opened', async () => {
    const { server, states } = await start({ maxConnectionMs: 100_000 });
    server.latest.accept();
    await jest.advanceTimersByTimeAsync(90_000);
    const [old, successor] = server.sockets;
    successor?.accept();
    old?.drop(1001);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(taken().slice(2)).toEqual(['open → handing over', 'handing over → open']);
    expect(server.sockets).toHaveLength(2);
    expect(states).toEqual(['open']);
  });

  it('handing over → reconnecting, its attempt the successor, when the server closes the old connection before the successor opened', async () => {
    const { server, states } = await start({ maxConnectionMs: 100_000 });
    server.latest.accept();
    await jest.advanceTimersByTimeAsync(90_000);
    const [old, successor] = server.sockets;
    old?.drop(1001);
    successor?.accept();
    expect(taken().slice(2)).toEqual(['open → handing over', 'handing over → reconnecting', 'reconnecting → open']);
    expect(server.sockets).toHaveLength(2);
    expect(states).toEqual(['open', 'reconnecting', 'open']);
  });

  it.each(['connecting', 'open', 'handing over', 'reconnecting'] as const)('closed from %s: close() resolves once every socket closed, and no timer is left', async (from) => {
    const { client, server } = await start({ maxConnectionMs: 100_000 });
    if (from !== 'connecting') server.latest.accept();
    if (from === 'handing over') await jest.advanceTimersByTimeAsync(90_000);
    if (from === 'reconnecting') server.latest.drop();
    await client.close();
    expect(taken().at(-1)).toBe(`${from} → closed`);
    expect(server.sockets.every((socket) => socket.closed)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('closed is final: a listener that closes the client as it opens leaves no socket or timer behind', async () => {
    const server = scriptedServer();
    client = createClient({ url: URL, WebSocket: server.WebSocket, anonymous: true });
    const opened = client;
    client.on('state', (state) => state === 'open' && void opened.close());
    await settle();
    server.latest.accept();
    await settle();
    expect(opened.state).toBe('closed');
    expect(server.latest.closed).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('leave(), the part of each transition that needs no client', () => {
  const clock = { now: () => 0, setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms), clearTimeout: (handle: unknown) => clearTimeout(handle as number) };

  it('clears the timer of the phase it leaves', () => {
    const retry = new Timer(clock);
    retry.set(() => undefined, 1_000);
    leave({ name: 'reconnecting', timer: retry }, { name: 'reconnecting', connection: new Connection(clock) });
    expect(retry.pending).toBe(false);
  });

  it('returns the connections the next phase does not hold, for the client to close', () => {
    const [old, successor] = [new Connection(clock), new Connection(clock)];
    const handingOver: Phase = { name: 'handing over', connection: old, successor, timer: new Timer(clock) };
    expect(leave(handingOver, { name: 'open', connection: successor })).toEqual([old]);
    expect(leave(handingOver, { name: 'open', connection: old })).toEqual([successor]);
    expect(leave({ name: 'open', connection: old }, { name: 'closed', closing: Promise.resolve() })).toEqual([old]);
  });
});

describe('the drawing in docs/client.md', () => {
  it('has exactly the transitions of TRANSITIONS', () => {
    const docs = readFileSync(path.join(__dirname, '..', '..', 'docs', 'client.md'), 'utf8');
    const diagram = /## The state machine\s+```mermaid\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const names = new Map<string, string>();
    for (const [, name, id] of diagram.matchAll(/state "([^"]+)" as (\w+)/g)) names.set(id as string, name as string);
    // [*], the start and the end, is no phase.
    const drawn = [...diagram.matchAll(/^\s*(\w+) --> (\w+)/gm)].map(([, from, to]) => `${names.get(from as string) ?? from} → ${names.get(to as string) ?? to}`);
    const listed = (Object.entries(TRANSITIONS) as [PhaseName, readonly PhaseName[]][]).flatMap(([from, tos]) => tos.map((to) => `${from} → ${to}`));
    expect([...new Set(drawn)].sort()).toEqual(listed.sort());
  });
});
