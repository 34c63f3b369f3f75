import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { planChange } from '../../local/cdk/handler-bundles';
import { digestOf, type FunctionBundle, type SynthInputs } from '../../local/cdk/synth-inputs';

let dir: string;
const file = (name: string) => path.join(dir, name);

function bundle(logicalId: string, inputs: string[]): FunctionBundle {
  return {
    rebuildable: true,
    command: ['esbuild', '--bundle', inputs[0] as string, '--outfile=/build/index.js'],
    cwd: dir,
    environment: {},
    searchPath: '',
    outputDir: '/build',
    outputFile: 'index.js',
    outputSha256: 'unused here',
    inputs,
    codeDir: `/assets/${logicalId}`,
    functionLogicalIds: [logicalId],
  };
}

/** What a synth of an app with two handlers sharing a core file would have recorded, digests as the files are now. */
function inputsNow(): SynthInputs {
  const files = ['app.ts', 'cdk.json', 'connect.ts', 'ping.ts', 'core.ts', 'README.md'].map(file);
  return {
    schema: 1,
    settings: '{}',
    files: Object.fromEntries(files.map((one) => [one, digestOf(one)])),
    appFiles: [file('app.ts'), file('cdk.json')],
    bundles: [bundle('Connect', [file('connect.ts'), file('core.ts')]), bundle('Ping', [file('ping.ts'), file('core.ts')])],
  };
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'change-plan-'));
  for (const name of ['app.ts', 'cdk.json', 'connect.ts', 'ping.ts', 'core.ts', 'README.md']) writeFileSync(file(name), `// ${name}\n`);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('what an edit needs', () => {
  it('rebuilds only the bundle that includes an edited handler file', () => {
    const inputs = inputsNow();
    writeFileSync(file('ping.ts'), 'export const handler = async () => "pong";\n');

    const plan = planChange(inputs, [file('ping.ts')], dir);

    expect(plan.kind).toBe('rebuild');
    expect(plan.kind === 'rebuild' && plan.bundles.map((one) => one.functionLogicalIds)).toEqual([['Ping']]);
  });

  it('rebuilds every bundle that includes an edited shared file', () => {
    const inputs = inputsNow();
    writeFileSync(file('core.ts'), 'export const shared = 2;\n');

    const plan = planChange(inputs, [file('core.ts')], dir);

    expect(plan.kind === 'rebuild' && plan.bundles.flatMap((one) => one.functionLogicalIds).sort()).toEqual(['Connect', 'Ping']);
  });

  it("re-synthesizes when a file of the CDK app itself changed, even alongside handler files", () => {
    const inputs = inputsNow();
    writeFileSync(file('ping.ts'), '// edited\n');
    writeFileSync(file('app.ts'), '// edited\n');

    expect(planChange(inputs, [file('ping.ts'), file('app.ts')], dir)).toEqual({ kind: 'synth', reason: 'app.ts is part of the CDK app' });
  });

  it('re-synthesizes when no bundle includes the edited file, or a new file appears', () => {
    const inputs = inputsNow();
    writeFileSync(file('README.md'), '# edited\n');
    writeFileSync(file('new-handler.ts'), 'export const handler = async () => 1;\n');

    expect(planChange(inputs, [file('README.md')], dir)).toEqual({ kind: 'synth', reason: 'no bundle includes README.md' });
    expect(planChange(inputs, [file('new-handler.ts')], dir)).toEqual({ kind: 'synth', reason: 'no bundle includes new-handler.ts' });
  });

  it('needs nothing for a file saved unchanged, or an editor\'s temporary file already gone', () => {
    const inputs = inputsNow();
    writeFileSync(file('ping.ts'), '// ping.ts\n');

    expect(planChange(inputs, [file('ping.ts'), file('.ping.ts.swp')], dir)).toEqual({ kind: 'unchanged' });
  });

  it('re-synthesizes on any edit when the last synth\'s inputs are not known', () => {
    writeFileSync(file('ping.ts'), '// edited\n');

    expect(planChange(undefined, [file('ping.ts')], dir)).toMatchObject({ kind: 'synth' });
  });
});
