import { loadavg } from 'node:os';
import type { ClientFleet } from '../clients/fleet';
import type { SocketSpec } from '../clients/fleet-protocol';
import { type AwsCallMeter, combinedUsage, type FunctionUsage, type WindowUsage } from '../measurements/aws-calls';
import { type NotificationTarget, type PhaseResult, type RunContext, runFixedRate, runSaturation, warmUp } from '../workloads/workload';
import type { BenchSettings } from './options';
import { cpuSecondsBetween, sampleProcesses } from './processes';
import type { Progress } from './progress';
import { round } from './stats';

/** One design, as the matrix drives it. */
export interface DesignUnderTest {
  /** Shown in the progress and the report: `ws-notify`, `naive`, `raw ws`. */
  label: string;
  /** Prefix of its user ids, so that no two designs share a user. */
  userPrefix: string;
  socketFor(userId: string): Promise<SocketSpec>;
  target: NotificationTarget;
  /** For the designs that run on the local runtime: their functions' calls, and which functions deliver. */
  aws?: {
    meter: AwsCallMeter;
    deliveryFunctions: string[];
    shortNames: Map<string, string>;
    /** The design's own engines (`127.0.0.1:<port>`): only calls to them are counted. */
    engineHosts: string[];
  };
  /** Saturation bursts this many times the settings' size (the raw server's are over too fast otherwise). */
  saturationMultiplier?: number;
  /** Adds table rows for the connected users who are not measured (designs with a table). */
  addBackgroundConnections?: (rows: number, onProgress: (written: number) => void) => Promise<number>;
}

/** The AWS calls of one measured phase, per delivered frame. */
export interface AwsCallSummary {
  /** SDK commands the delivery-path functions sent, per delivery, by `Service.Operation`. */
  byApi: Record<string, number>;
  /** Their sum: what the ≤ 1.6 target is about. */
  perDelivery: number;
  /** The requests Lambda's SQS event-source mappings make (the local pollers, counted here), per delivery. */
  eventSourcePerDelivery: { ReceiveMessage: number; DeleteMessageBatch: number };
  /** Both together. */
  allPerDelivery: number;
  /** Raw counts, for the cost model. */
  counts: {
    deliveryPath: FunctionUsage;
    byFunction: Record<string, FunctionUsage>;
    eventSourceRequests: number;
    backendRequests: number;
    /** What the delivery-path functions logged. */
    logBytes: number;
    /** Functions outside the delivery path that ran meanwhile (a scheduled sweep, say). */
    otherInvocations: Record<string, number>;
  };
}

export interface MeasuredPhase extends PhaseResult {
  aws?: AwsCallSummary;
  /** CPU each process used per delivery (ms): where the machine's time went. */
  cpuMsPerDelivery: Record<string, number>;
}

export interface ConfigResult {
  users: number;
  connectionsPerUser: number;
  /** Connections open during the measurement (every configuration's users stay connected). */
  openConnections: number;
  /** Rows in the connection table during the measurement: the open connections and the background ones. */
  tableRows: number;
  fixedRate: MeasuredPhase;
  saturation: MeasuredPhase;
  /** The reference configuration only: a light load, where latency is the pipeline's own. */
  lightRate?: MeasuredPhase;
  /** The machine's 1-minute load average when the configuration finished (other work on it shows here). */
  loadAverage: number;
}

export interface MatrixResult {
  configs: ConfigResult[];
  /** Rows in the design's table for users who are connected but not measured. */
  backgroundConnections: number;
  connectFailures: number;
  connectErrors: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs every (user count × connections per user) configuration against one design: connects the
 * users (they stay connected, so later configurations run with earlier ones' connections open, as
 * a real table would hold them), warms up, then measures a fixed-rate phase and a saturation phase.
 */
export class Matrix {
  private readonly connectedUsers = new Map<number, number>();
  private openConnections = 0;
  private connectFailures = 0;
  private backgroundConnections = 0;
  private readonly connectErrors: string[] = [];

  constructor(
    private readonly design: DesignUnderTest,
    private readonly fleet: ClientFleet,
    private readonly settings: BenchSettings,
    private readonly progress: Progress,
  ) {}

  get connections(): number {
    return this.openConnections;
  }

  usersOf(connectionsPerUser: number, users: number): string[] {
    return Array.from({ length: users }, (_, index) => `${this.design.userPrefix}-c${connectionsPerUser}-u${index}`);
  }

  async run(): Promise<MatrixResult> {
    const { settings, design, progress } = this;
    const context: RunContext = { target: design.target, fleet: this.fleet, progress, drainSeconds: settings.drainSeconds, padBytes: settings.payloadPadBytes };
    const configs: ConfigResult[] = [];
    const userCounts = [...new Set(settings.configs.map((config) => config.users))].sort((a, b) => a - b);
    for (const [index, users] of userCounts.entries()) {
      const connectionCounts = settings.configs.filter((config) => config.users === users).map((config) => config.connectionsPerUser);
      progress.step(`${design.label}: connecting ${users} users × (${connectionCounts.join(', ')}) connections`);
      await this.connectUsers(users, connectionCounts);
      progress.note(`${this.openConnections} connections open`);
      if (index === 0 && design.addBackgroundConnections && settings.backgroundUsers > 0) {
        const rows = settings.backgroundUsers * 2;
        progress.step(`${design.label}: adding ${rows} table rows for ${settings.backgroundUsers} other connected users`);
        this.backgroundConnections = await design.addBackgroundConnections(rows, (written) => progress.update(`${written}/${rows} rows`));
      }
      if (index === 0) {
        progress.step(`${design.label}: warming up`);
        const [warmConnections = 1] = connectionCounts;
        await warmUp(context, this.usersOf(warmConnections, users), warmConnections, settings.warmUpNotifications);
      }
      for (const connectionsPerUser of connectionCounts) {
        const userIds = this.usersOf(connectionsPerUser, users);
        const name = `${design.label}: ${users} users × ${connectionsPerUser} connection(s)`;
        progress.step(`${name}, ${settings.fixedRate.perSecond} msg/s for ${settings.fixedRate.seconds} s`);
        const fixedRate = await this.measured(() =>
          runFixedRate(context, userIds, connectionsPerUser, settings.fixedRate.perSecond, settings.fixedRate.seconds),
        );
        progress.note(describe('fixed rate', fixedRate));
        progress.step(`${name}, saturation (${settings.saturation.deliveries * (design.saturationMultiplier ?? 1)} deliveries, ≤ ${settings.saturation.maxSeconds} s)`);
        const saturation = await this.measured(() =>
          runSaturation(
            context,
            userIds,
            connectionsPerUser,
            settings.saturation.deliveries * (design.saturationMultiplier ?? 1),
            settings.saturation.maxSeconds,
          ),
        );
        progress.note(describe('saturation', saturation));
        let lightRate: MeasuredPhase | undefined;
        if (users === settings.reference.users && connectionsPerUser === settings.reference.connectionsPerUser) {
          progress.step(`${name}, light load: ${settings.lightRate.perSecond} msg/s for ${settings.lightRate.seconds} s`);
          lightRate = await this.measured(() =>
            runFixedRate(context, userIds, connectionsPerUser, settings.lightRate.perSecond, settings.lightRate.seconds),
          );
          progress.note(describe('light load', lightRate));
        }
        configs.push({
          users,
          connectionsPerUser,
          openConnections: this.openConnections,
          tableRows: this.openConnections + this.backgroundConnections,
          fixedRate,
          saturation,
          ...(lightRate && { lightRate }),
          loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
        });
      }
    }
    return { configs, backgroundConnections: this.backgroundConnections, connectFailures: this.connectFailures, connectErrors: this.connectErrors };
  }

  /** Opens connections until each of these connections-per-user sets has `users` users. */
  async connectUsers(users: number, connectionCounts: number[]): Promise<void> {
    const specs: SocketSpec[] = [];
    for (const connectionsPerUser of connectionCounts) {
      const from = this.connectedUsers.get(connectionsPerUser) ?? 0;
      for (const userId of this.usersOf(connectionsPerUser, users).slice(from)) {
        const spec = await this.design.socketFor(userId);
        for (let copy = 0; copy < connectionsPerUser; copy++) specs.push(spec);
      }
      this.connectedUsers.set(connectionsPerUser, Math.max(from, users));
    }
    await this.connect(specs);
  }

  /** Opens more connections (the scale phase's), counted with the rest. */
  async connect(specs: SocketSpec[], concurrency = 32): Promise<{ opened: number; failed: number; seconds: number }> {
    const started = Date.now();
    const { opened, failed, errors } = await this.fleet.connect(specs, {
      concurrency,
      onProgress: (progress) => this.progress.update(`${this.openConnections + progress.opened} open, ${progress.failed} refused`),
    });
    this.openConnections += opened;
    this.connectFailures += failed;
    this.connectErrors.push(...errors.slice(0, 5 - this.connectErrors.length));
    if (failed > 0) this.progress.note(`${failed} connection(s) failed: ${errors[0]}`);
    return { opened, failed, seconds: (Date.now() - started) / 1000 };
  }

  private async measured(phase: () => Promise<PhaseResult>): Promise<MeasuredPhase> {
    const window = this.design.aws?.meter.window(this.design.aws.engineHosts);
    const before = sampleProcesses();
    const result = await phase();
    // The last frames can arrive before their invocation reports and the pollers' deletes.
    await sleep(750);
    const usage = window?.end();
    const cpu = cpuSecondsBetween(before, sampleProcesses());
    const cpuMsPerDelivery = Object.fromEntries(
      Object.entries(cpu).map(([role, seconds]) => [role, result.deliveries > 0 ? round((seconds * 1000) / result.deliveries) : 0]),
    );
    return { ...result, cpuMsPerDelivery, ...(usage && this.design.aws && { aws: summarizeCalls(usage, this.design.aws, result.deliveries) }) };
  }
}

export function summarizeCalls(usage: WindowUsage, aws: NonNullable<DesignUnderTest['aws']>, deliveries: number): AwsCallSummary {
  const byFunction: Record<string, FunctionUsage> = {};
  const otherInvocations: Record<string, number> = {};
  for (const [name, functionUsage] of Object.entries(usage.functions)) {
    const short = aws.shortNames.get(name) ?? name;
    if (aws.deliveryFunctions.includes(name)) byFunction[short] = functionUsage;
    else otherInvocations[short] = functionUsage.invocations;
  }
  const deliveryPath = combinedUsage(Object.values(byFunction));
  const perDelivery = (count: number) => (deliveries > 0 ? round(count / deliveries, 3) : 0);
  const commandTotal = Object.values(deliveryPath.commands).reduce((total, count) => total + count, 0);
  const receives = usage.local['SQS.ReceiveMessage'] ?? 0;
  const deletes = usage.local['SQS.DeleteMessageBatch'] ?? 0;
  return {
    byApi: Object.fromEntries(Object.entries(deliveryPath.commands).map(([operation, count]) => [operation, perDelivery(count)])),
    perDelivery: perDelivery(commandTotal),
    eventSourcePerDelivery: { ReceiveMessage: perDelivery(receives), DeleteMessageBatch: perDelivery(deletes) },
    allPerDelivery: perDelivery(commandTotal + receives + deletes),
    counts: {
      deliveryPath,
      byFunction,
      eventSourceRequests: receives + deletes,
      backendRequests: (usage.local['SQS.SendMessage'] ?? 0) + (usage.local['SQS.SendMessageBatch'] ?? 0),
      logBytes: Object.entries(usage.logBytes)
        .filter(([name]) => aws.deliveryFunctions.includes(name))
        .reduce((total, [, bytes]) => total + bytes, 0),
      otherInvocations,
    },
  };
}

function describe(what: string, phase: MeasuredPhase): string {
  const latency = phase.latency;
  const ms = (value: number | null, name: string) => (value === null ? `${name} > deadline` : `${name} ${value} ms`);
  const calls = phase.aws ? `, ${phase.aws.perDelivery} AWS calls/delivery` : '';
  return (
    `${what}: ${phase.deliveries}/${phase.expectedDeliveries} delivered, ${phase.throughputPerSec}/s, ` +
    `${ms(latency.p50Ms, 'p50')}, ${ms(latency.p99Ms, 'p99')}${calls}`
  );
}
