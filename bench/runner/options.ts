import { parseArgs } from 'node:util';

export const PHASES = ['dev-loop', 'bundles', 'raw', 'e2e', 'naive', 'scale', 'streams'] as const;
export type Phase = (typeof PHASES)[number];

export const HELP = `Usage: npm run bench -- [options]

Measures ws-notify on the local runtime (DynamoDB Local, the SQS emulator, the real bundles), the
naive design of the AWS sample on the same emulators, and a plain \`ws\` server, all on 127.0.0.1.
Writes bench/results/latest.json, latest.html and latest.md.

Options:
  --quick              smaller counts and shorter windows (under 3 minutes)
  --only <phases>      comma-separated subset of: ${PHASES.join(', ')}
  --out <dir>          where the results go (default bench/results)
  -h, --help           this help`;

/** Every count and time limit of one run: bounded, so that the whole run is. */
export interface BenchSettings {
  mode: 'full' | 'quick';
  phases: Phase[];
  outDir: string;
  /** The matrix: each configuration is a user count and a number of connections per user. */
  configs: { users: number; connectionsPerUser: number }[];
  /**
   * The rest of the connected population: users who are connected but not measured, as rows in the
   * design's connection table (2 per user), so that a lookup reads a table of realistic size.
   */
  backgroundUsers: number;
  /** The configuration the headline numbers (and the cost model) come from. */
  reference: { users: number; connectionsPerUser: number };
  /** NotifyUser messages per second offered in the latency phase, and for how long. */
  fixedRate: { perSecond: number; seconds: number };
  /** A light load, at the reference configuration only: the pipeline's own latency, without queueing. */
  lightRate: { perSecond: number; seconds: number };
  /**
   * Deliveries aimed at in a saturation burst, and the longest it may take. The raw `ws` server gets
   * `rawMultiplier` times as many, or its burst would be over before it could be timed.
   */
  saturation: { deliveries: number; maxSeconds: number; rawMultiplier: number };
  /** How long undelivered messages are waited for after the last send. */
  drainSeconds: number;
  /** Connections the scale phase opens in all (the end-to-end phases' included). */
  scaleConnections: number;
  /** Fresh-process imports per bundle; the median is reported. */
  importRuns: number;
  /** NotifyUser messages sent before anything is measured, to start every execution environment. */
  warmUpNotifications: number;
  /** Bytes of padding in each notification's data, so every design sends the same frame. */
  payloadPadBytes: number;
}

const matrix = (userCounts: number[], connectionsPerUser: number[]) =>
  userCounts.flatMap((users) => connectionsPerUser.map((connections) => ({ users, connectionsPerUser: connections })));

const FULL: Omit<BenchSettings, 'phases' | 'outDir'> = {
  mode: 'full',
  configs: matrix([100, 400], [1, 2, 5]),
  backgroundUsers: 10_000,
  reference: { users: 400, connectionsPerUser: 2 },
  fixedRate: { perSecond: 100, seconds: 5 },
  lightRate: { perSecond: 10, seconds: 4 },
  saturation: { deliveries: 1500, maxSeconds: 10, rawMultiplier: 10 },
  drainSeconds: 5,
  scaleConnections: 10_000,
  importRuns: 3,
  warmUpNotifications: 100,
  payloadPadBytes: 200,
};

const QUICK: Omit<BenchSettings, 'phases' | 'outDir'> = {
  ...FULL,
  mode: 'quick',
  // 1 and 5 connections per user at the smaller user count; the reference configuration (2) at the larger.
  configs: [...matrix([20], [1, 5]), { users: 100, connectionsPerUser: 2 }],
  backgroundUsers: 1_000,
  reference: { users: 100, connectionsPerUser: 2 },
  fixedRate: { perSecond: 100, seconds: 2 },
  lightRate: { perSecond: 10, seconds: 2 },
  saturation: { deliveries: 600, maxSeconds: 4, rawMultiplier: 10 },
  drainSeconds: 3,
  scaleConnections: 1_000,
  importRuns: 1,
  warmUpNotifications: 40,
};

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The settings `npm run bench -- <argv>` asks for; undefined for --help. */
export function parseBenchOptions(argv: string[], defaultOutDir: string): BenchSettings | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean' },
        only: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  const phases = values.only === undefined ? [...PHASES] : values.only.split(',').map((phase) => phase.trim());
  const unknown = phases.filter((phase) => !(PHASES as readonly string[]).includes(phase));
  if (unknown.length > 0 || phases.length === 0) {
    throw new UsageError(`--only takes phases among ${PHASES.join(', ')}; got "${values.only}"`);
  }
  return { ...(values.quick ? QUICK : FULL), phases: phases as Phase[], outDir: values.out ?? defaultOutDir };
}
