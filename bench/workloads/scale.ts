import { readFileSync } from 'node:fs';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { ClientFleet } from '../clients/fleet';
import type { SocketSpec } from '../clients/fleet-protocol';
import type { Matrix } from '../runner/matrix';
import { rssMbByRole, sampleProcesses } from '../runner/processes';
import type { Progress } from '../runner/progress';
import { round } from '../runner/stats';

export interface ScaleResult {
  /** Connections the phase aimed at (the cap: the run is bounded). */
  target: number;
  /** Connections open at the end, as the clients see them. */
  held: number;
  /** Rows in the connection table: connections whose $connect completed. */
  tableRows: number;
  failed: number;
  errors: string[];
  /** Connections opened per second while adding them (authorizer + $connect each). */
  connectPerSec: number;
  /** Resident memory of the runtime's process (gateway, management API, pollers, function workers). */
  rssMb: number;
  /** The same before the phase added its connections, with `connectionsBefore` open. */
  rssMbBefore: number;
  connectionsBefore: number;
  /** The engines' and the clients' processes too. */
  rssMbByProcess: Record<string, number>;
  /**
   * The main thread's JavaScript heap (the gateway and its connections; the function workers have
   * heaps of their own), before and after: what the connections themselves take.
   */
  mainHeapMbBefore: number;
  mainHeapMb: number;
  /** Threads in the runtime's process: mostly the function workers (execution environments). */
  threads: number;
  closeCodes: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens connections (two per user) until `target` are open in all, then reads how many are held and
 * the runtime's memory. The clients live in their own process, so the memory is the runtime's.
 */
export async function runScale(options: {
  matrix: Matrix;
  fleet: ClientFleet;
  socketFor: (userId: string) => Promise<SocketSpec>;
  target: number;
  db: DynamoDBDocumentClient;
  tableName: string;
  progress: Progress;
}): Promise<ScaleResult> {
  const { matrix, fleet, target, progress } = options;
  const connectionsBefore = (await fleet.census()).open;
  const rssMbBefore = rssMbByRole(sampleProcesses())['runtime'] ?? 0;
  const mainHeapMbBefore = heapUsedMb();
  const specs: SocketSpec[] = [];
  for (let user = 0; specs.length < target - connectionsBefore; user++) {
    progress.update(`preparing ${specs.length}/${target - connectionsBefore} credentials`);
    const spec = await options.socketFor(`scale-u${user}`);
    specs.push(spec);
    if (specs.length < target - connectionsBefore) specs.push(spec);
  }
  const { opened, failed, seconds } = await matrix.connect(specs, 64);
  // Let the last $connect rows land and the heap settle before reading memory.
  await sleep(2_000);
  const census = await fleet.census();
  const processes = rssMbByRole(sampleProcesses());
  return {
    target,
    held: census.open,
    tableRows: await countRows(options.db, options.tableName),
    failed,
    errors: [],
    connectPerSec: round(opened / Math.max(seconds, 0.001), 1),
    rssMb: processes['runtime'] ?? 0,
    rssMbBefore: round(rssMbBefore),
    connectionsBefore,
    rssMbByProcess: processes,
    mainHeapMbBefore,
    mainHeapMb: heapUsedMb(),
    threads: threadCount(),
    closeCodes: census.closeCodes,
  };
}

function heapUsedMb(): number {
  return round(process.memoryUsage().heapUsed / 1024 / 1024);
}

function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
}

async function countRows(db: DynamoDBDocumentClient, tableName: string): Promise<number> {
  let rows = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: tableName, Select: 'COUNT', ...(start && { ExclusiveStartKey: start }) }));
    rows += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return rows;
}
