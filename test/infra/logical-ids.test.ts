import { DEPLOY_VARIANTS, ORDER_ENRICHMENT } from './deploy-variants';
import { breakingChanges, type LogicalIds, recordedWith, unrecordedOf } from './logical-ids';
import { readFixture } from './record-logical-ids';

// The check deploy-synth.test.ts runs on every variant's template against test/fixtures/logical-ids.json.

const fixture = readFixture();
const recorded = fixture['default (JWT)']!;
const connections = Object.keys(recorded.indexes).find((id) => id.startsWith('WsNotifyConnections'))!;
const copy = (ids: LogicalIds): LogicalIds => JSON.parse(JSON.stringify(ids)) as LogicalIds;
const index = (IndexName: string) => ({ IndexName, KeySchema: [{ AttributeName: IndexName, KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } });

describe('the logical-id fixture', () => {
  it('records every deploy variant and the example that passes enrichers', () => {
    expect(Object.keys(fixture).sort()).toEqual([...Object.keys(DEPLOY_VARIANTS), ORDER_ENRICHMENT].sort());
  });

  it("records the connection table's indexes with their keys and projections", () => {
    expect(recorded.indexes[connections]!.map(({ IndexName }) => IndexName)).toEqual(expect.arrayContaining(['byApiKey', 'byCredentialExpiry', 'byUser']));
    expect(recorded.indexes[connections]!.every(({ KeySchema, Projection }) => KeySchema !== undefined && Projection !== undefined)).toBe(true);
  });
});

describe('an update in place', () => {
  it('is what the recorded stack itself is', () => {
    expect(breakingChanges(recorded, recorded)).toEqual([]);
    expect(unrecordedOf(recorded, recorded)).toEqual([]);
  });

  it('is refused when a resource is renamed (a replacement: a table or queue loses its data)', () => {
    const synthesized = copy(recorded);
    const { [connections]: type, ...rest } = synthesized.resources;
    const renamed = { resources: { ...rest, WsNotifyConnectionStoreConnections12345678: type! }, indexes: synthesized.indexes };

    expect(breakingChanges(recorded, renamed)).toEqual([`${connections} (AWS::DynamoDB::Table) is gone: a renamed or removed resource is replaced or deleted on update`]);
  });

  it('is refused when a logical ID changes type', () => {
    const synthesized = copy(recorded);
    synthesized.resources[connections] = 'AWS::DynamoDB::GlobalTable';

    expect(breakingChanges(recorded, synthesized)).toEqual([`${connections} changed type from AWS::DynamoDB::Table to AWS::DynamoDB::GlobalTable`]);
  });

  it("is refused when an index's projection changes, or an index goes", () => {
    const changed = copy(recorded);
    const userIndex = changed.indexes[connections]!.find(({ IndexName }) => IndexName === 'byUser')! as { Projection: unknown };
    userIndex.Projection = { ProjectionType: 'ALL' };
    const dropped = copy(recorded);
    dropped.indexes[connections] = dropped.indexes[connections]!.filter(({ IndexName }) => IndexName !== 'byCredentialExpiry');

    expect(breakingChanges(recorded, changed)).toEqual([expect.stringContaining(`${connections}'s index byUser changed`)]);
    expect(breakingChanges(recorded, dropped)).toEqual([`${connections}'s index byCredentialExpiry is gone`]);
  });

  it('takes one new index per table, and refuses two', () => {
    const one = copy(recorded);
    one.indexes[connections]!.push(index('PresenceIndex'));
    const two = copy(one);
    two.indexes[connections]!.push(index('TenantIndex'));

    expect(breakingChanges(recorded, one)).toEqual([]);
    expect(breakingChanges(recorded, two)).toEqual([`${connections} gains 2 indexes (PresenceIndex, TenantIndex): CloudFormation adds one per table per update`]);
  });

  it('names new resources and indexes until they are recorded, and recording keeps every old one', () => {
    const synthesized = copy(recorded);
    synthesized.resources['WsNotifyPresence12345678'] = 'AWS::DynamoDB::Table';
    synthesized.indexes[connections]!.push(index('PresenceIndex'));
    delete synthesized.resources[connections.replace('Connections', 'ConnectionCounts')];

    expect(unrecordedOf(recorded, synthesized)).toEqual(['WsNotifyPresence12345678', `${connections}/PresenceIndex`]);
    const rerecorded = recordedWith(recorded, synthesized);
    expect(unrecordedOf(rerecorded, synthesized)).toEqual([]);
    expect(Object.keys(rerecorded.resources)).toEqual(expect.arrayContaining(Object.keys(recorded.resources)));
  });
});
