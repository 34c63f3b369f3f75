import { randomUUID } from 'node:crypto';
import type { ScheduledRuleDefinition } from '../cloudformation/app-model';
import { LOCAL_ACCOUNT_ID } from '../cloudformation/provision';

/** The event EventBridge sends a rule's targets on each scheduled run, unless the target sets an Input. */
export function scheduledEvent(rule: ScheduledRuleDefinition, region: string, time: Date): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [rule.ruleArn],
    detail: {},
  };
}

/**
 * Runs the template's scheduled rules: every `intervalSeconds` (or every `overrideSeconds`, to
 * try out or test a schedule without waiting minutes), each target is invoked asynchronously, as
 * EventBridge does; a failure is reported and the schedule goes on.
 */
export class Scheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly rules: readonly ScheduledRuleDefinition[],
    private readonly invoke: (functionName: string, event: unknown) => Promise<unknown>,
    private readonly region: string,
    private readonly onError: (rule: ScheduledRuleDefinition, error: Error) => void,
    private readonly overrideSeconds?: number,
  ) {}

  start(): void {
    for (const rule of this.rules) {
      const intervalMs = (this.overrideSeconds ?? rule.intervalSeconds) * 1000;
      this.timers.push(setInterval(() => this.run(rule), intervalMs));
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.running);
  }

  private run(rule: ScheduledRuleDefinition): void {
    const event = scheduledEvent(rule, this.region, new Date());
    for (const target of rule.targets) {
      const run = this.invoke(target.functionName, target.input === undefined ? event : JSON.parse(target.input))
        .then(() => undefined)
        .catch((error: unknown) => this.onError(rule, error as Error))
        .finally(() => this.running.delete(run));
      this.running.add(run);
    }
  }
}
