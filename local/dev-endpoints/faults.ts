import { readFileSync } from 'node:fs';

/** The management API's answers a fault can give, as API Gateway sends them (`x-amzn-ErrorType` picks SDK v3's exception). */
export const MANAGEMENT_API_ERRORS = {
  410: { errorType: 'GoneException', message: 'Connection is gone (injected fault)' },
  429: { errorType: 'LimitExceededException', message: 'Rate exceeded (injected fault)' },
  500: { errorType: 'InternalServerErrorException', message: 'Internal server error (injected fault)' },
} as const;

export type ManagementApiFaultStatus = keyof typeof MANAGEMENT_API_ERRORS;
export type ManagementApiMethod = 'POST' | 'GET' | 'DELETE';

/** Makes `@connections` calls fail: those that match it, `rate` of them, the first `times` of them. */
export interface ManagementApiFault {
  status: ManagementApiFaultStatus;
  /** Only calls for these connections. @default every connection */
  connectionIds?: string[];
  /** Only these calls: POST (PostToConnection), GET (GetConnection), DELETE (DeleteConnection). @default all three */
  methods?: ManagementApiMethod[];
  /** The share of matching calls that fail, above 0 and at most 1. @default 1 */
  rate?: number;
  /** Fail this many calls, then let every call through. @default no end */
  times?: number;
}

/** What `--faults` and `/_local/faults` take. */
export interface FaultSpec {
  /** The first rule that matches a call answers it. */
  managementApi?: ManagementApiFault[];
  /** Connections cut off at once when the spec is set (TCP destroyed, no close frame), by connection id or the authorizer's principalId. */
  dropConnections?: { connectionIds?: string[]; principalIds?: string[] };
  /** Milliseconds each batch from a queue waits before its function gets it, by a part of the queue's name or URL. */
  queueDelays?: Record<string, number>;
  /** Tables whose every request from the functions is refused as throttled, by a part of the table's name. */
  pausedTables?: string[];
}

const METHODS: readonly ManagementApiMethod[] = ['POST', 'GET', 'DELETE'];

/** Reads a fault spec, refusing anything it does not know with the field named (a typo must not pass as "no fault"). */
export function parseFaultSpec(json: unknown): FaultSpec {
  const spec = object(json, 'the fault spec');
  only(spec, ['managementApi', 'dropConnections', 'queueDelays', 'pausedTables'], 'the fault spec');
  const parsed: FaultSpec = {};
  if (spec['managementApi'] !== undefined) {
    parsed.managementApi = array(spec['managementApi'], 'managementApi').map((entry, index) => managementApiFault(entry, `managementApi[${index}]`));
  }
  if (spec['dropConnections'] !== undefined) {
    const drop = object(spec['dropConnections'], 'dropConnections');
    only(drop, ['connectionIds', 'principalIds'], 'dropConnections');
    parsed.dropConnections = {
      ...(drop['connectionIds'] !== undefined && { connectionIds: strings(drop['connectionIds'], 'dropConnections.connectionIds') }),
      ...(drop['principalIds'] !== undefined && { principalIds: strings(drop['principalIds'], 'dropConnections.principalIds') }),
    };
  }
  if (spec['queueDelays'] !== undefined) {
    const delays = object(spec['queueDelays'], 'queueDelays');
    parsed.queueDelays = Object.fromEntries(
      Object.entries(delays).map(([queue, ms]) => {
        if (queue === '' || typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0) {
          throw new Error(`queueDelays takes {"<part of a queue's name>": milliseconds (a whole number)}, got "${queue}": ${JSON.stringify(ms)}`);
        }
        return [queue, ms];
      }),
    );
  }
  if (spec['pausedTables'] !== undefined) parsed.pausedTables = strings(spec['pausedTables'], 'pausedTables');
  return parsed;
}

/** `--faults`' value: inline JSON (it starts with `{`), or the path of a JSON file. */
export function faultSpecFromArgument(value: string): FaultSpec {
  const text = value.trimStart().startsWith('{') ? value : readFaultFile(value);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`--faults: not JSON (${(error as Error).message})`);
  }
  try {
    return parseFaultSpec(json);
  } catch (error) {
    throw new Error(`--faults: ${(error as Error).message}`);
  }
}

/**
 * The faults in force, and what they did. Pure decisions: the runtime asks it, per call, whether
 * to fail it; `random` is injectable so a rate can be tested.
 */
export class Faults {
  private spec: FaultSpec = {};
  /** Calls each management API rule failed so far. */
  private answered: number[] = [];
  private refusedTableRequests = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /** Replaces the faults in force (the counts start again). Dropping connections is the runtime's, done as a spec is set. */
  set(spec: Omit<FaultSpec, 'dropConnections'>): void {
    this.spec = spec;
    this.answered = (spec.managementApi ?? []).map(() => 0);
    this.refusedTableRequests = 0;
  }

  /** Adds rules, paused tables and queue delays to those in force; a queue's new delay replaces its old one. */
  add(spec: Omit<FaultSpec, 'dropConnections'>): void {
    const answered = this.answered;
    this.set({
      ...((this.spec.managementApi || spec.managementApi) && { managementApi: [...(this.spec.managementApi ?? []), ...(spec.managementApi ?? [])] }),
      ...((this.spec.queueDelays || spec.queueDelays) && { queueDelays: { ...this.spec.queueDelays, ...spec.queueDelays } }),
      ...((this.spec.pausedTables || spec.pausedTables) && { pausedTables: [...new Set([...(this.spec.pausedTables ?? []), ...(spec.pausedTables ?? [])])] }),
    });
    answered.forEach((count, index) => (this.answered[index] = count));
  }

  /** What `GET /_local/faults` answers: the faults in force, and how many calls each has failed. */
  report(): { faults: Omit<FaultSpec, 'dropConnections'>; failed: { managementApi: number[]; tableRequests: number } } {
    return { faults: this.spec, failed: { managementApi: [...this.answered], tableRequests: this.refusedTableRequests } };
  }

  /** The status a management API call is failed with, or undefined to let it through. */
  managementApiFault(method: string, connectionId: string): ManagementApiFaultStatus | undefined {
    const rules = this.spec.managementApi ?? [];
    for (const [index, rule] of rules.entries()) {
      if (rule.connectionIds && !rule.connectionIds.includes(connectionId)) continue;
      if (!(rule.methods ?? METHODS).includes(method as ManagementApiMethod)) continue;
      const answered = this.answered[index] ?? 0;
      if (rule.times !== undefined && answered >= rule.times) continue;
      if (this.random() >= (rule.rate ?? 1)) continue;
      this.answered[index] = answered + 1;
      return rule.status;
    }
    return undefined;
  }

  /** How long a batch from this queue waits before its function gets it. */
  queueDelayMs(queueUrl: string): number {
    const delays = Object.entries(this.spec.queueDelays ?? {}).filter(([queue]) => queueUrl.includes(queue));
    return Math.max(0, ...delays.map(([, ms]) => ms));
  }

  get pausesTables(): boolean {
    return (this.spec.pausedTables ?? []).length > 0;
  }

  /** Whether a request naming these tables is refused (and counted), because one of them is paused. */
  refusesTableRequest(tableNames: readonly string[]): boolean {
    const paused = this.spec.pausedTables ?? [];
    const refused = tableNames.some((table) => paused.some((part) => table.includes(part)));
    if (refused) this.refusedTableRequests += 1;
    return refused;
  }
}

function managementApiFault(json: unknown, where: string): ManagementApiFault {
  const rule = object(json, where);
  only(rule, ['status', 'connectionIds', 'methods', 'rate', 'times'], where);
  const { status, rate, times } = rule;
  if (!(typeof status === 'number' && status in MANAGEMENT_API_ERRORS)) {
    throw new Error(`${where}.status is one of ${Object.keys(MANAGEMENT_API_ERRORS).join(', ')}, got ${JSON.stringify(status)}`);
  }
  if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && rate <= 1)) {
    throw new Error(`${where}.rate is a share above 0 and at most 1, got ${JSON.stringify(rate)}`);
  }
  if (times !== undefined && !(typeof times === 'number' && Number.isInteger(times) && times >= 1)) {
    throw new Error(`${where}.times is a whole number from 1, got ${JSON.stringify(times)}`);
  }
  const methods = rule['methods'] === undefined ? undefined : strings(rule['methods'], `${where}.methods`);
  const unknown = methods?.find((method) => !METHODS.includes(method as ManagementApiMethod));
  if (unknown !== undefined) throw new Error(`${where}.methods takes ${METHODS.join(', ')}, got "${unknown}"`);
  return {
    status: status as ManagementApiFaultStatus,
    ...(rule['connectionIds'] !== undefined && { connectionIds: strings(rule['connectionIds'], `${where}.connectionIds`) }),
    ...(methods && { methods: methods as ManagementApiMethod[] }),
    ...(rate !== undefined && { rate }),
    ...(times !== undefined && { times }),
  };
}

function readFaultFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`--faults takes inline JSON or a JSON file; cannot read "${file}": ${(error as Error).message}`);
  }
}

function object(json: unknown, what: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${what} is a JSON object, got ${JSON.stringify(json)}`);
  return json as Record<string, unknown>;
}

function array(json: unknown, what: string): unknown[] {
  if (!Array.isArray(json)) throw new Error(`${what} is a JSON array, got ${JSON.stringify(json)}`);
  return json;
}

function strings(json: unknown, what: string): string[] {
  const list = array(json, what);
  if (list.some((item) => typeof item !== 'string' || item === '')) throw new Error(`${what} is a list of non-empty strings, got ${JSON.stringify(json)}`);
  return list as string[];
}

function only(record: Record<string, unknown>, known: string[], what: string): void {
  const unknown = Object.keys(record).find((key) => !known.includes(key));
  if (unknown !== undefined) throw new Error(`${what} has no field "${unknown}" (it takes ${known.join(', ')})`);
}
