import { rateSeconds } from '../../local/cloudformation/app-model';
import { scheduledEvent } from '../../local/event-sources/scheduler';

describe('rate() schedule expressions', () => {
  it.each([
    ['rate(1 minute)', 60],
    ['rate(5 minutes)', 300],
    ['rate(2 hours)', 7200],
    ['rate(1 day)', 86400],
  ])('%s runs every %d seconds', (expression, seconds) => {
    expect(rateSeconds(expression)).toBe(seconds);
  });

  it.each(['cron(0/5 * * * ? *)', 'rate(1 second)', 'rate(minutes)', 'at(2026-01-01T00:00:00)'])('%s is not a rate it runs', (expression) => {
    expect(rateSeconds(expression)).toBeUndefined();
  });
});

describe('the scheduled event', () => {
  it("has EventBridge's shape, naming the rule", () => {
    const rule = { logicalId: 'Sweep', ruleArn: 'arn:aws:events:eu-west-1:000000000000:rule/Sweep', intervalSeconds: 60, targets: [] };

    expect(scheduledEvent(rule, 'eu-west-1', new Date('2026-11-23T20:00:00.123Z'))).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: '2026-11-23T20:00:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:events:eu-west-1:000000000000:rule/Sweep'],
      detail: {},
    });
  });
});
