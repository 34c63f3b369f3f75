import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inputsFileOf, recordSynthInputs, reusableSynth, type SynthSettings } from '../../local/cdk/synth-inputs';

// A project with one watched folder and the assembly a synth of it wrote (a stack with no
// functions), so that what decides reuse is what the synth read.
let projectDir: string;
let settings: SynthSettings;
const file = (name: string) => path.join(projectDir, name);

beforeEach(() => {
  projectDir = mkdtempSync(path.join(tmpdir(), 'synth-inputs-'));
  mkdirSync(file('bin'));
  writeFileSync(file('cdk.json'), JSON.stringify({ app: 'npx tsx bin/app.ts', watch: { include: ['bin/**'] } }));
  writeFileSync(file('bin/app.ts'), 'import "./stack";\n');
  writeFileSync(file('bin/stack.ts'), 'export {};\n');
  const assemblyDir = file('.local/cdk.out');
  mkdirSync(assemblyDir, { recursive: true });
  writeFileSync(
    path.join(assemblyDir, 'manifest.json'),
    JSON.stringify({ artifacts: { Small: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Small.template.json' } } } }),
  );
  writeFileSync(path.join(assemblyDir, 'Small.template.json'), JSON.stringify({ Resources: {} }));
  settings = { projectDir, assemblyDir, context: { jwtIssuer: 'http://127.0.0.1:3001/issuer' } };
});

afterEach(() => rmSync(projectDir, { recursive: true, force: true }));

const record = () => recordSynthInputs(settings, { modules: [file('bin/app.ts'), file('bin/stack.ts')], bundles: [] });

describe('reusing the last synth', () => {
  it('reuses it while nothing it read has changed', () => {
    record();

    expect(reusableSynth(settings)).toHaveProperty('inputs');
  });

  it('synthesizes when a module of the app changed, a file appeared, or the context differs', () => {
    record();
    writeFileSync(file('bin/stack.ts'), 'export const edited = true;\n');
    expect(reusableSynth(settings)).toEqual({ reason: 'bin/stack.ts changed' });

    record();
    writeFileSync(file('bin/helper.ts'), 'export {};\n');
    expect(reusableSynth(settings)).toEqual({ reason: 'bin/helper.ts is new' });

    record();
    expect(reusableSynth({ ...settings, context: { jwtIssuer: 'http://127.0.0.1:4002/issuer' } })).toEqual({
      reason: 'the context, stack, tools or CDK environment differ',
    });
  });

  it('synthesizes when the assembly is gone', () => {
    record();
    rmSync(path.join(settings.assemblyDir, 'manifest.json'));

    expect(reusableSynth(settings)).toEqual({ reason: `${path.join('.local', 'cdk.out', 'manifest.json')} changed` });
  });

  it('keeps no record when the synth could not say what it read, or bundled with steps it does not repeat', () => {
    expect(recordSynthInputs(settings, undefined)).toMatchObject({ reason: expect.stringContaining('reported nothing') });
    expect(existsSync(inputsFileOf(settings.assemblyDir))).toBe(false);

    const opaque = recordSynthInputs(settings, { modules: [], bundles: [{ rebuildable: false, scope: 'Small' }] });
    expect(opaque).toEqual({ reason: 'a NodejsFunction in Small bundles with command hooks, pre-compilation or node modules' });
    expect(reusableSynth(settings)).toEqual({ reason: 'no record of the last synth' });
  });
});
