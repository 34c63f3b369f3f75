// `npm run record:logical-ids`: adds the resources and indexes a change introduced to
// test/fixtures/logical-ids.json. It never takes one out: a logical ID, once deployed, is an API.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { DEPLOY_VARIANTS, type DeployVariant, dispose, ORDER_ENRICHMENT, synthesizeVariant } from './deploy-variants';
import { breakingChanges, type LogicalIds, logicalIdsOf, recordedWith } from './logical-ids';

export const FIXTURE = path.join(__dirname, '..', 'fixtures', 'logical-ids.json');
export const RECORDED_REGION = 'eu-west-1';
export const RECORDED_VARIANTS: (DeployVariant | typeof ORDER_ENRICHMENT)[] = [...(Object.keys(DEPLOY_VARIANTS) as DeployVariant[]), ORDER_ENRICHMENT];

export function readFixture(): Record<string, LogicalIds> {
  return existsSync(FIXTURE) ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, LogicalIds>) : {};
}

if (require.main === module) {
  const fixture = readFixture();
  const outdirs: string[] = [];
  const problems: string[] = [];
  try {
    for (const variant of RECORDED_VARIANTS) {
      const now = logicalIdsOf(Template.fromStack(synthesizeVariant(variant, RECORDED_REGION, outdirs)));
      const recorded = fixture[variant];
      if (recorded) problems.push(...breakingChanges(recorded, now).map((problem) => `${variant}: ${problem}`));
      fixture[variant] = recordedWith(recorded, now);
    }
  } finally {
    dispose(outdirs);
  }
  if (problems.length > 0) {
    console.error(`Not recorded: these would not update in place.\n${problems.join('\n')}`);
    process.exit(1);
  }
  writeFileSync(FIXTURE, `${JSON.stringify(fixture, null, 2)}\n`);
  console.log(`Recorded ${RECORDED_VARIANTS.length} variants in ${path.relative(process.cwd(), FIXTURE)}.`);
}
