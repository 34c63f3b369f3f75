import { parseBenchOptions, UsageError } from './options';

describe('parseBenchOptions', () => {
  it('runs every phase with the full settings by default', () => {
    const settings = parseBenchOptions([], '/out');
    expect(settings).toMatchObject({ mode: 'full', phases: ['dev-loop', 'bundles', 'raw', 'e2e', 'naive', 'scale', 'streams'], outDir: '/out' });
    expect(settings?.configs).toHaveLength(6);
    expect(settings?.scaleConnections).toBe(10_000);
  });

  it('takes --quick, --only and --out', () => {
    const settings = parseBenchOptions(['--quick', '--only', 'e2e,naive', '--out', '/elsewhere'], '/out');
    expect(settings).toMatchObject({ mode: 'quick', phases: ['e2e', 'naive'], outDir: '/elsewhere' });
  });

  it('keeps the reference configuration among the configurations it runs', () => {
    for (const argv of [[], ['--quick']]) {
      const settings = parseBenchOptions(argv, '/out');
      expect(settings?.configs).toContainEqual(settings?.reference);
    }
  });

  it('runs the streams phase alone with --only streams', () => {
    expect(parseBenchOptions(['--only', 'streams'], '/out')?.phases).toEqual(['streams']);
  });

  it('refuses an unknown phase, naming the known ones', () => {
    expect(() => parseBenchOptions(['--only', 'e2e,speed'], '/out')).toThrow(new UsageError('--only takes phases among dev-loop, bundles, raw, e2e, naive, scale, streams; got "e2e,speed"'));
  });

  it('refuses an unknown option', () => {
    expect(() => parseBenchOptions(['--fast'], '/out')).toThrow(UsageError);
  });

  it('answers --help with no settings', () => {
    expect(parseBenchOptions(['--help'], '/out')).toBeUndefined();
  });
});
