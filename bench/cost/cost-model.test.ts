import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  connectionMinutesPerMonthUsd,
  keepaliveCost,
  costPerMillionNotifications,
  dynamoDbItemBytes,
  eventuallyConsistentReadUnits,
  logIngestionPerMillionUsd,
  type MeasuredDeliveryPath,
  type Prices,
  scanOfTable,
  streamsOffAndOn,
  stronglyConsistentReadUnits,
} from './cost-model';

const prices = JSON.parse(readFileSync(path.join(__dirname, 'prices.json'), 'utf8')) as Prices;

/** 1,000 notifications to users with 2 connections each, delivered by ws-notify's path as it is today. */
const wsNotify: MeasuredDeliveryPath = {
  notifications: 1000,
  deliveries: 2000,
  frameBytes: 400,
  functionCommands: { 'DynamoDB.Query': 1000, 'SQS.SendMessageBatch': 1000, 'ApiGatewayManagementApi.PostToConnection': 2000 },
  eventSourceRequests: 600,
  invocations: 300,
  billedMs: 30_000,
  memoryMb: 256,
  scanWaitMs: 0,
  logBytes: 600_000,
};

describe('DynamoDB units', () => {
  it('charges half a read unit per 4 KB, rounded up, for an eventually consistent read', () => {
    expect(eventuallyConsistentReadUnits(200, prices.dynamodb)).toBe(0.5);
    expect(eventuallyConsistentReadUnits(4096, prices.dynamodb)).toBe(0.5);
    expect(eventuallyConsistentReadUnits(4097, prices.dynamodb)).toBe(1);
  });

  it('charges a whole read unit per 4 KB, rounded up, for a strongly consistent read', () => {
    expect(stronglyConsistentReadUnits(400, prices.dynamodb)).toBe(1);
    expect(stronglyConsistentReadUnits(4097, prices.dynamodb)).toBe(2);
  });

  it('reads a whole table in 1 MB pages when it Scans', () => {
    expect(scanOfTable(100 * 1024, prices.dynamodb)).toEqual({ pages: 1, readUnits: 12.5 });
    expect(scanOfTable(2.5 * 1024 * 1024, prices.dynamodb)).toEqual({ pages: 3, readUnits: 320 });
  });

  it('sizes an item as DynamoDB does: names plus values', () => {
    expect(dynamoDbItemBytes({ connectionId: 'abcdefghijklmnop', userId: 'alice' })).toBe(12 + 16 + 6 + 5);
    // 13 digits: 7 bytes for the digits, 1 more.
    expect(dynamoDbItemBytes({ connectedAt: 1763931600123 })).toBe(11 + 8);
  });
});

describe('costPerMillionNotifications', () => {
  it('adds up the lines from the measured calls and published prices', () => {
    const cost = costPerMillionNotifications(wsNotify, { kind: 'query', indexEntryBytes: 80 }, { users: 10_000, connectionsPerUser: 2 }, prices);
    // 2 frames of 400 B per notification: 2 messages at $1.00 per million.
    expect(cost.lines.apiGatewayMessages).toBeCloseTo(2.0);
    // SendMessageBatch 1 + event-source 0.6 per notification, at $0.40 per million.
    expect(cost.lines.sqsRequests).toBeCloseTo(0.64);
    // 0.3 invocations at $0.20 per million.
    expect(cost.lines.lambdaRequests).toBeCloseTo(0.06);
    // 30 ms × 0.25 GB per notification at $0.0000133334 per GB-s.
    expect(cost.lines.lambdaDuration).toBeCloseTo(0.1, 3);
    // One Query reading 2 entries of 80 B: half a read unit, at $0.125 per million.
    expect(cost.lines.dynamodbReads).toBeCloseTo(0.0625);
    expect(cost.totalUsd).toBeCloseTo(2.0 + 0.64 + 0.06 + 0.1 + 0.0625, 3);
    expect(cost.perNotification.functionCalls).toBe(4);
  });

  it('does not change with the number of users when the lookup is a Query of the user', () => {
    const at = (users: number) => costPerMillionNotifications(wsNotify, { kind: 'query', indexEntryBytes: 80 }, { users, connectionsPerUser: 2 }, prices).totalUsd;
    expect(at(1_000)).toBe(at(100_000));
  });

  it('grows with the table when every notification Scans it, reads and waiting alike', () => {
    const naive: MeasuredDeliveryPath = {
      ...wsNotify,
      functionCommands: { 'DynamoDB.Scan': 1000, 'ApiGatewayManagementApi.PostToConnection': 2000 },
      eventSourceRequests: 200,
      invocations: 100,
      billedMs: 50_000,
      scanWaitMs: 40_000,
    };
    const lookup = { kind: 'scan', itemBytes: 60, rowsMeasured: 2_000 } as const;
    const small = costPerMillionNotifications(naive, lookup, { users: 1_000, connectionsPerUser: 2 }, prices);
    const large = costPerMillionNotifications(naive, lookup, { users: 100_000, connectionsPerUser: 2 }, prices);
    // 200,000 rows of 60 B = 12 MB: 12 pages, 2,930 units of 4 KB, half each.
    expect(large.perNotification.readRequestUnits).toBe(1465);
    expect(large.perNotification.functionCalls).toBe(12 + 2);
    // At the measured table (2,000 rows) the billed time is as measured; 100× the rows is 100× the Scan wait.
    expect(small.perNotification.lambdaGbSeconds).toBeCloseTo(0.05 * 0.25, 6);
    expect(large.perNotification.lambdaGbSeconds).toBeCloseTo((0.01 + 0.04 * 100) * 0.25, 6);
    expect(large.totalUsd).toBeGreaterThan(small.totalUsd * 10);
  });
});

describe('streams on and off, at 2 connections per user', () => {
  // As test/integration/stream-costs.test.ts counts them per notification: off, 1 Query (the
  // connections); on, 2 Query (one of them the append's strongly consistent read) and 1 PutItem.
  const streamsOn: MeasuredDeliveryPath = {
    ...wsNotify,
    functionCommands: { ...wsNotify.functionCommands, 'DynamoDB.Query': 2000, 'DynamoDB.PutItem': 1000 },
    consistentQueries: 1000,
  };
  const lookup = { kind: 'query', indexEntryBytes: 80 } as const;
  const scenario = { users: 10_000, connectionsPerUser: 2 };

  it('counts the append’s strongly consistent Query as its own line, not as a connection lookup', () => {
    const cost = costPerMillionNotifications(streamsOn, lookup, scenario, prices);
    // The lookup as before: half a read unit. The append's read: one whole unit, at $0.125 per million.
    expect(cost.lines.dynamodbReads).toBeCloseTo(0.0625);
    expect(cost.lines.dynamodbStreamReads).toBeCloseTo(0.125);
    expect(cost.perNotification.readRequestUnits).toBe(1.5);
    expect(cost.perNotification.streamReadRequestUnits).toBe(1);
    // One PutItem of an entry under 1 KB: one write unit at $0.625 per million.
    expect(cost.perNotification.writeRequestUnits).toBe(1);
    expect(cost.lines.dynamodbWrites).toBeCloseTo(0.625);
    expect(cost.perNotification.functionCalls).toBe(6);
  });

  it('costs $0.75 more per 1M with streams on: one read unit and one write unit', () => {
    const { off, on } = streamsOffAndOn(streamsOn);
    const offCost = costPerMillionNotifications(off, lookup, scenario, prices);
    const onCost = costPerMillionNotifications(on, lookup, scenario, prices);
    expect(off.functionCommands['DynamoDB.Query']).toBe(1000);
    expect(off.functionCommands['DynamoDB.PutItem']).toBeUndefined();
    expect(offCost.totalUsd).toBeCloseTo(costPerMillionNotifications(wsNotify, lookup, scenario, prices).totalUsd, 4);
    expect(onCost.perNotification.writeRequestUnits).toBeLessThanOrEqual(2);
    expect(onCost.totalUsd - offCost.totalUsd).toBeCloseTo(0.125 + 0.625, 4);
  });

  it('models streams on from a path measured with them off, and a contended path as one append per notification', () => {
    expect(streamsOffAndOn(wsNotify).on).toEqual(streamsOffAndOn(streamsOn).on);
    // Appends racing from several instances: 4.25 per notification (lost races), each a consistent Query and a PutItem.
    const burst = { ...streamsOn, functionCommands: { ...streamsOn.functionCommands, 'DynamoDB.Query': 5250, 'DynamoDB.PutItem': 4250 }, consistentQueries: 4250 };
    expect(costPerMillionNotifications(burst, lookup, scenario, prices).perNotification.writeRequestUnits).toBe(4.25);
    expect(streamsOffAndOn(burst).on).toEqual(streamsOffAndOn(streamsOn).on);
  });
});

describe('logIngestionPerMillionUsd', () => {
  it('prices the functions’ log lines and Lambda’s own as CloudWatch Logs ingestion', () => {
    // 600 B per notification, and 300 invocations × 500 B of Lambda's: 750 MB per million, at $0.50 per GB.
    expect(logIngestionPerMillionUsd(wsNotify, prices)).toBe(0.375);
  });
});

describe('connectionMinutesPerMonthUsd', () => {
  it('bills every connection for every minute of a 30-day month', () => {
    // 10,000 users × 2 connections × 43,200 minutes = 864 million minutes at $0.25 per million.
    expect(connectionMinutesPerMonthUsd({ users: 10_000, connectionsPerUser: 2 }, prices)).toBe(216);
  });
});

describe('keepaliveCost', () => {
  const model = { periodMinutes: 8, postMs: 1.2, memoryMb: 256, indexEntryBytes: 64, queriesPerRun: 10, idleRunMs: 40 };

  it('bills one API Gateway message per period to each keepalive connection: 5,400 in a 30-day month at 8 minutes', () => {
    const cost = keepaliveCost(model, prices);

    expect(cost.keepalivesPerConnectionMonth).toBe(5400);
    // 5,400 messages at $1 per million.
    expect(cost.perConnectionMonth.apiGatewayMessages).toBe(0.0054);
    // 5,400 × 1.2 ms at 0.25 GB × $0.0000133334 per GB-second.
    expect(cost.perConnectionMonth.lambdaDuration).toBeCloseTo(0.0000216, 6);
    // 5,400 entries of 64 B read eventually consistently: 42.2 read units at $0.125 per million.
    expect(cost.perConnectionMonth.dynamodbReads).toBeCloseTo(0.0000053, 6);
    expect(cost.perConnectionMonth.totalUsd).toBeCloseTo(0.0054269, 6);
    // Beside the connection's own 43,200 minutes at $0.25 per million.
    expect(cost.connectionMinutesUsd).toBe(0.0108);
  });

  it('prices the schedule apart, per stack: 43,200 runs a month, their idle time and ten one-unit Queries each', () => {
    // 43,200 × $0.2/M + 43,200 × 40 ms × 0.25 GB × $0.0000133334 + 432,000 × 0.5 RRU × $0.125/M.
    expect(keepaliveCost(model, prices).schedulePerMonthUsd).toBeCloseTo(0.00864 + 0.00576 + 0.027, 4);
  });

  it('halves the message line when the period doubles', () => {
    expect(keepaliveCost({ ...model, periodMinutes: 16 }, prices).perConnectionMonth.apiGatewayMessages).toBe(0.0027);
  });
});
