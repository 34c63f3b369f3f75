import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system, all threads) and resident memory of one process, from /proc. */
export interface ProcessSample {
  pid: number;
  role: string;
  cpuSeconds: number;
  rssMb: number;
  /** For this process: its main thread's share (the gateway, management API, pollers); the rest is the function workers'. */
  mainThreadCpuSeconds?: number;
}

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

/** What a process of this run is, from its command line. */
function roleOf(pid: number, commandLine: string): string {
  if (pid === process.pid) return 'runtime';
  if (commandLine.includes('DynamoDBLocal.jar')) return 'dynamodbLocal';
  if (commandLine.includes('sqs-emulator.mjs')) return 'sqsEmulator';
  if (commandLine.includes('client-fleet')) return 'clientFleet';
  return 'other';
}

/** Fields of a /proc stat line after the command name, which may itself contain spaces and parentheses. */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function sample(pid: number): (ProcessSample & { parent: number }) | undefined {
  try {
    const fields = statFields(`/proc/${pid}/stat`);
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return {
      pid,
      role: roleOf(pid, commandLine),
      cpuSeconds: cpuSecondsOf(fields),
      rssMb: (Number(fields[21]) * PAGE_BYTES) / 1024 / 1024,
      parent: Number(fields[1]),
      ...(pid === process.pid && { mainThreadCpuSeconds: cpuSecondsOf(statFields(`/proc/${pid}/task/${pid}/stat`)) }),
    };
  } catch {
    return undefined; // it exited between the listing and the read
  }
}

function cpuSecondsOf(fields: string[]): number {
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** This process and its children (the engines, the client fleet). */
export function sampleProcesses(): ProcessSample[] {
  const samples: ProcessSample[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const found = sample(pid);
    if (!found || (pid !== process.pid && found.parent !== process.pid)) continue;
    const { parent: _parent, ...processSample } = found;
    samples.push(processSample);
  }
  return samples;
}

/** CPU seconds each role used between two samples; this process's is split into its main thread and the rest. */
export function cpuSecondsBetween(before: ProcessSample[], after: ProcessSample[]): Record<string, number> {
  const used: Record<string, number> = {};
  const add = (role: string, seconds: number) => (used[role] = round2((used[role] ?? 0) + seconds));
  for (const process of after) {
    const earlier = before.find((candidate) => candidate.pid === process.pid);
    const total = process.cpuSeconds - (earlier?.cpuSeconds ?? 0);
    if (process.mainThreadCpuSeconds === undefined) {
      add(process.role, total);
      continue;
    }
    const mainThread = process.mainThreadCpuSeconds - (earlier?.mainThreadCpuSeconds ?? 0);
    add(`${process.role} main thread`, mainThread);
    add(`${process.role} workers`, total - mainThread);
  }
  return used;
}

export function rssMbByRole(samples: ProcessSample[]): Record<string, number> {
  const rss: Record<string, number> = {};
  for (const process of samples) rss[process.role] = round2((rss[process.role] ?? 0) + process.rssMb);
  return rss;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
