import type { Template } from 'aws-cdk-lib/assertions';

// What a deployed stack's in-place update depends on: every resource keeps its logical ID and type,
// and every table keeps its global secondary indexes as they are (CloudFormation never changes one,
// and adds at most one per table per update). test/fixtures/logical-ids.json holds these per deploy
// variant; `npm run record:logical-ids` adds new resources to it and never takes one out.

/** One global secondary index as CloudFormation creates it: what may never change in place. */
export interface SecondaryIndex {
  readonly IndexName: string;
  readonly KeySchema: unknown;
  readonly Projection: unknown;
}

export interface LogicalIds {
  /** Logical ID → resource type. */
  readonly resources: Record<string, string>;
  /** Table logical ID → its GSIs, by name. */
  readonly indexes: Record<string, SecondaryIndex[]>;
}

export function logicalIdsOf(template: Template): LogicalIds {
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  const ids = Object.keys(resources).sort();
  const indexes: Record<string, SecondaryIndex[]> = {};
  for (const id of ids) {
    const resource = resources[id]!;
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const gsis = (resource.Properties?.['GlobalSecondaryIndexes'] ?? []) as SecondaryIndex[];
    indexes[id] = gsis
      .map(({ IndexName, KeySchema, Projection }) => ({ IndexName, KeySchema, Projection }))
      .sort((a, b) => a.IndexName.localeCompare(b.IndexName));
  }
  return { resources: Object.fromEntries(ids.map((id) => [id, resources[id]!.Type])), indexes };
}

/**
 * Why a stack deployed as `recorded` could not update in place to `synthesized`, one line per
 * problem; empty when it can. New resources are not a problem here (see `unrecordedOf`).
 */
export function breakingChanges(recorded: LogicalIds, synthesized: LogicalIds): string[] {
  const problems: string[] = [];
  for (const [id, type] of Object.entries(recorded.resources)) {
    const now = synthesized.resources[id];
    if (now === undefined) problems.push(`${id} (${type}) is gone: a renamed or removed resource is replaced or deleted on update`);
    else if (now !== type) problems.push(`${id} changed type from ${type} to ${now}`);
  }
  for (const [table, indexes] of Object.entries(recorded.indexes)) {
    const now = synthesized.indexes[table];
    if (now === undefined) continue; // the table itself is reported above
    for (const index of indexes) {
      const current = now.find(({ IndexName }) => IndexName === index.IndexName);
      if (current === undefined) problems.push(`${table}'s index ${index.IndexName} is gone`);
      else if (JSON.stringify(current) !== JSON.stringify(index)) {
        problems.push(`${table}'s index ${index.IndexName} changed (CloudFormation cannot change a GSI's keys or projection): ${JSON.stringify(current)}`);
      }
    }
    const added = now.filter(({ IndexName }) => !indexes.some((index) => index.IndexName === IndexName));
    if (added.length > 1) {
      problems.push(`${table} gains ${added.length} indexes (${added.map(({ IndexName }) => IndexName).join(', ')}): CloudFormation adds one per table per update`);
    }
  }
  return problems;
}

/** What the synthesized stack has that the fixture does not record yet: resources, and indexes of recorded tables. */
export function unrecordedOf(recorded: LogicalIds, synthesized: LogicalIds): string[] {
  const resources = Object.keys(synthesized.resources).filter((id) => recorded.resources[id] === undefined);
  const indexes = Object.entries(synthesized.indexes).flatMap(([table, now]) =>
    recorded.indexes[table] === undefined
      ? []
      : now.filter(({ IndexName }) => !recorded.indexes[table]!.some((index) => index.IndexName === IndexName)).map(({ IndexName }) => `${table}/${IndexName}`),
  );
  return [...resources, ...indexes];
}

/** The fixture with what is new added; what it recorded stays, even where the synthesized stack lost it. */
export function recordedWith(recorded: LogicalIds | undefined, synthesized: LogicalIds): LogicalIds {
  const resources = { ...synthesized.resources, ...recorded?.resources };
  const indexes: Record<string, SecondaryIndex[]> = { ...synthesized.indexes };
  for (const [table, kept] of Object.entries(recorded?.indexes ?? {})) {
    const added = (synthesized.indexes[table] ?? []).filter(({ IndexName }) => !kept.some((index) => index.IndexName === IndexName));
    indexes[table] = [...kept, ...added].sort((a, b) => a.IndexName.localeCompare(b.IndexName));
  }
  const sorted = <T>(record: Record<string, T>) => Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
  return { resources: sorted(resources), indexes: sorted(indexes) };
}
