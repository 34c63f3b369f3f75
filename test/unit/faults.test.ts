import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { tableNamesOf } from '../../local/engines/dynamodb-proxy';
import { faultSpecFromArgument, Faults, parseFaultSpec } from '../../local/dev-endpoints/faults';

describe('fault specs (--faults, /_local/faults)', () => {
  it('reads every kind of fault', () => {
    const spec = {
      managementApi: [{ status: 429, connectionIds: ['abc='], methods: ['POST'], rate: 0.5, times: 3 }, { status: 500 }],
      dropConnections: { connectionIds: ['abc='], principalIds: ['alice'] },
      queueDelays: { NotifyConnectionQueue: 2000 },
      pausedTables: ['ConnectionsTable'],
    };
    expect(parseFaultSpec(spec)).toEqual(spec);
    expect(parseFaultSpec({})).toEqual({});
  });

  it.each([
    [[], 'the fault spec is a JSON object, got []'],
    [{ managementAPI: [] }, 'the fault spec has no field "managementAPI" (it takes managementApi, dropConnections, queueDelays, pausedTables)'],
    [{ managementApi: [{ status: 404 }] }, 'managementApi[0].status is one of 410, 429, 500, got 404'],
    [{ managementApi: [{ status: 429, rate: 0 }] }, 'managementApi[0].rate is a share above 0 and at most 1, got 0'],
    [{ managementApi: [{ status: 429, times: 1.5 }] }, 'managementApi[0].times is a whole number from 1, got 1.5'],
    [{ managementApi: [{ status: 429, methods: ['PUT'] }] }, 'managementApi[0].methods takes POST, GET, DELETE, got "PUT"'],
    [{ managementApi: [{ status: 429, connectionId: 'abc=' }] }, 'managementApi[0] has no field "connectionId"'],
    [{ dropConnections: { connectionIds: 'abc=' } }, 'dropConnections.connectionIds is a JSON array, got "abc="'],
    [{ queueDelays: { NotifyConnectionQueue: -1 } }, 'queueDelays takes {"<part of a queue\'s name>": milliseconds (a whole number)}, got "NotifyConnectionQueue": -1'],
    [{ pausedTables: [''] }, 'pausedTables is a list of non-empty strings, got [""]'],
  ])('refuses %j with the field named', (spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });

  it('takes --faults inline or from a JSON file, and names the flag in its errors', () => {
    expect(faultSpecFromArgument('{"pausedTables":["Connections"]}')).toEqual({ pausedTables: ['Connections'] });
    const dir = mkdtempSync(path.join(tmpdir(), 'faults-'));
    try {
      const file = path.join(dir, 'faults.json');
      writeFileSync(file, '{"managementApi":[{"status":410}]}');
      expect(faultSpecFromArgument(file)).toEqual({ managementApi: [{ status: 410 }] });
      expect(() => faultSpecFromArgument(path.join(dir, 'missing.json'))).toThrow('--faults takes inline JSON or a JSON file; cannot read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => faultSpecFromArgument('{"managementApi":')).toThrow('--faults: not JSON');
    expect(() => faultSpecFromArgument('{"tables":[]}')).toThrow('--faults: the fault spec has no field "tables"');
  });
});

describe('the faults in force', () => {
  it('fails the calls a rule names, as many times as it says, and counts them', () => {
    const faults = new Faults();
    faults.set({ managementApi: [{ status: 429, connectionIds: ['abc='], methods: ['POST'], times: 2 }] });
    expect(faults.managementApiFault('GET', 'abc=')).toBeUndefined();
    expect(faults.managementApiFault('POST', 'other=')).toBeUndefined();
    expect([1, 2, 3].map(() => faults.managementApiFault('POST', 'abc='))).toEqual([429, 429, undefined]);
    expect(faults.report().failed.managementApi).toEqual([2]);
  });

  it('fails the share of calls a rate says, and the first matching rule answers', () => {
    const draws = [0.1, 0.9, 0.1];
    const faults = new Faults(() => draws.shift() as number);
    faults.set({ managementApi: [{ status: 500, rate: 0.5 }, { status: 410, connectionIds: ['gone='] }] });
    expect(faults.managementApiFault('POST', 'any=')).toBe(500);
    expect(faults.managementApiFault('POST', 'any=')).toBeUndefined();
    expect(faults.managementApiFault('DELETE', 'gone=')).toBe(500);
  });

  it('adds to the faults in force with POST and keeps their counts; replaces and clears them', () => {
    const faults = new Faults();
    faults.set({ managementApi: [{ status: 429 }], queueDelays: { Notify: 100 } });
    faults.managementApiFault('POST', 'a=');
    faults.add({ managementApi: [{ status: 500 }], queueDelays: { NotifyConnectionQueue: 2000 }, pausedTables: ['Connections'] });
    expect(faults.report()).toEqual({
      faults: { managementApi: [{ status: 429 }, { status: 500 }], queueDelays: { Notify: 100, NotifyConnectionQueue: 2000 }, pausedTables: ['Connections'] },
      failed: { managementApi: [1, 0], tableRequests: 0 },
    });
    faults.set({});
    expect(faults.report()).toEqual({ faults: {}, failed: { managementApi: [], tableRequests: 0 } });
  });

  it('delays a queue by the longest delay whose name part its URL contains', () => {
    const faults = new Faults();
    faults.set({ queueDelays: { NotifyConnectionQueue: 2000, WsNotify: 500 } });
    expect(faults.queueDelayMs('http://127.0.0.1:1/000000000000/WsNotify-NotifyConnectionQueueA1B2')).toBe(2000);
    expect(faults.queueDelayMs('http://127.0.0.1:1/000000000000/WsNotify-NotifyUserQueueC3D4')).toBe(500);
    expect(faults.queueDelayMs('http://127.0.0.1:1/000000000000/Other')).toBe(0);
  });

  it('refuses requests that name a paused table, wherever the request names it', () => {
    const faults = new Faults();
    faults.set({ pausedTables: ['ConnectionsTable'] });
    expect(faults.refusesTableRequest(tableNamesOf({ TableName: 'WsNotify-ConnectionsTableX' }))).toBe(true);
    expect(faults.refusesTableRequest(tableNamesOf({ RequestItems: { 'WsNotify-ConnectionsTableX': [] } }))).toBe(true);
    expect(faults.refusesTableRequest(tableNamesOf({ TransactItems: [{ Put: { TableName: 'Counts' } }, { Delete: { TableName: 'WsNotify-ConnectionsTableX' } }] }))).toBe(true);
    expect(faults.refusesTableRequest(tableNamesOf({ TableName: 'WsNotify-ConnectionCountsTable' }))).toBe(false);
    expect(faults.refusesTableRequest(tableNamesOf(undefined))).toBe(false);
    expect(faults.report().failed.tableRequests).toBe(3);
  });
});
