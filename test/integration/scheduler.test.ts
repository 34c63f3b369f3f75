import type { ScheduledRuleDefinition } from '../../local/cloudformation/app-model';
import { Scheduler } from '../../local/event-sources/scheduler';
import { eventually } from '../support/local-runtime';

const rule = (targets: ScheduledRuleDefinition['targets']): ScheduledRuleDefinition => ({
  logicalId: 'Sweep',
  ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/Sweep',
  intervalSeconds: 3600,
  targets,
});

let scheduler: Scheduler | undefined;

afterEach(async () => {
  await scheduler?.stop();
});

describe('the scheduler', () => {
  it('invokes every target on each run, with the scheduled event or the target input, and goes on after a failure', async () => {
    const invocations: { functionName: string; event: any }[] = [];
    const errors: string[] = [];
    scheduler = new Scheduler(
      [rule([{ functionName: 'sweep' }, { functionName: 'report', input: '{"kind":"report"}' }, { functionName: 'broken' }])],
      async (functionName, event) => {
        invocations.push({ functionName, event });
        if (functionName === 'broken') throw new Error('sweep failed');
      },
      'us-east-1',
      (_, error) => errors.push(error.message),
      1,
    );
    scheduler.start();

    await eventually(async () => (invocations.filter((call) => call.functionName === 'sweep').length >= 2 ? true : undefined), 'two runs');
    expect(invocations.find((call) => call.functionName === 'sweep')?.event).toMatchObject({ 'detail-type': 'Scheduled Event', source: 'aws.events' });
    expect(invocations.find((call) => call.functionName === 'report')?.event).toEqual({ kind: 'report' });
    expect(errors[0]).toBe('sweep failed');
  });

  it('runs nothing after stop', async () => {
    let runs = 0;
    scheduler = new Scheduler([rule([{ functionName: 'sweep' }])], async () => void (runs += 1), 'us-east-1', () => undefined, 1);
    scheduler.start();
    await eventually(async () => (runs >= 1 ? true : undefined), 'a run');
    await scheduler.stop();
    const after = runs;

    // An absence can only be shown over time: one and a half intervals with no run.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(runs).toBe(after);
  });
});
