import { KEEPALIVE_PERIOD_MINUTES, KEEPALIVE_SHARDS, keepaliveSlot, slotsDue } from '../../lambdas/core/keepalive';

const MINUTE = 60_000;
const connectedAt = Date.parse('2026-11-27T10:03:42Z');

describe('keepalive slots', () => {
  it('come due every 8 minutes from the minute a connection opened, and in none of the minutes between', () => {
    const slot = keepaliveSlot('conn-a', connectedAt);
    const due = Array.from({ length: 3 * KEEPALIVE_PERIOD_MINUTES }, (_, minute) => minute).filter((minute) =>
      slotsDue(connectedAt + minute * MINUTE).includes(slot),
    );

    expect(due).toEqual([0, 8, 16]);
  });

  it('leave no connection more than 9 minutes without one, even when the run is late by most of its minute', () => {
    // Opened at the start of its minute, served at the end of the minute 8 later: under API Gateway's 10.
    const worstGap = (KEEPALIVE_PERIOD_MINUTES + 1) * MINUTE;

    expect(worstGap).toBeLessThan(10 * MINUTE);
  });

  it('spread the connections of one minute over the shards by id', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, index) => keepaliveSlot(`conn-${index}`, connectedAt)));

    expect(shards.size).toBe(KEEPALIVE_SHARDS);
    expect([...shards].sort()).toEqual([...slotsDue(connectedAt)].sort());
  });
});
