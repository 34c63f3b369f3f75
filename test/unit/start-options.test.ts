import * as path from 'node:path';
import { startOptionsFrom, type StartOptions } from '../../local/start-options';

const runtimeOf = (args: string[]) => (startOptionsFrom(args) as StartOptions).runtime;

describe("npm start's options", () => {
  it("keeps a --project's state (synth, issuer key, outputs.json) in that project's .local", () => {
    expect(runtimeOf(['--project', '../chat'])).toMatchObject({ projectDir: '../chat', stateDir: path.join('..', 'chat', '.local') });
  });

  it('keeps the state in .local here when no project is named, and where --state-dir says when it is given', () => {
    expect(runtimeOf([]).stateDir).toBe('.local');
    expect(runtimeOf(['--project', '../chat', '--state-dir', '/tmp/state']).stateDir).toBe('/tmp/state');
  });

  it('reads numbers, context pairs and switches, and refuses malformed values with the option named', () => {
    expect(runtimeOf(['--port', '0', '-c', 'allowAnonymous=true', '--no-watch', '--schedule-every', '2'])).toMatchObject({
      port: 0,
      context: { allowAnonymous: 'true' },
      watch: false,
      scheduleEverySeconds: 2,
    });
    expect((startOptionsFrom(['--quiet-functions']) as StartOptions).quietFunctions).toBe(true);
    expect(runtimeOf(['--synth']).synth).toBe(true);
    expect(runtimeOf([]).synth).toBeUndefined();
    expect(() => startOptionsFrom(['--port', 'eighty'])).toThrow('--port takes a whole number, got "eighty"');
    expect(() => startOptionsFrom(['--schedule-every', '0'])).toThrow('--schedule-every takes at least 1, got "0"');
    expect(() => startOptionsFrom(['-c', 'novalue'])).toThrow('--context takes key=value, got "novalue"');
    expect(startOptionsFrom(['--help'])).toBe('help');
  });

  it('reads --faults, inline, and refuses a spec it does not know', () => {
    expect(runtimeOf(['--faults', '{"managementApi":[{"status":429,"rate":0.2}]}']).faults).toEqual({ managementApi: [{ status: 429, rate: 0.2 }] });
    expect(runtimeOf([]).faults).toBeUndefined();
    expect(() => startOptionsFrom(['--faults', '{"managementApi":[{"status":404}]}'])).toThrow('--faults: managementApi[0].status is one of 410, 429, 500, got 404');
  });
});
