import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * lambdas/ in layers (lambdas/README.md): handlers → transport → wiring → core → contract, each
 * importing only the layers after it. Read from the source files' import statements (type-only
 * imports included, as a bundler and a reader follow them), without running any of them.
 */
const LAMBDAS = path.join(__dirname, '..', '..', 'lambdas');
const LAYERS = ['handlers', 'transport', 'wiring', 'core', 'contract'] as const;
type Layer = (typeof LAYERS)[number];

interface SourceFile {
  /** Relative to lambdas/, without `.ts`: `core/topics`. */
  name: string;
  layer: Layer;
  text: string;
  /** The lambdas/ modules it imports, by name. */
  imports: string[];
  /** The packages it imports (`@aws-sdk/client-sqs`, `node:crypto`). */
  packages: string[];
}

function sourceFiles(): SourceFile[] {
  const files: SourceFile[] = [];
  for (const entry of readdirSync(LAMBDAS, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const name = path.relative(LAMBDAS, file).replace(/\.ts$/, '').split(path.sep).join('/');
    const layer = name.split('/')[0] as Layer;
    const text = readFileSync(file, 'utf8');
    const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((imported) => imported.fileName);
    files.push({
      name,
      layer,
      text,
      imports: specifiers
        .filter((specifier) => specifier.startsWith('.'))
        .map((specifier) => path.relative(LAMBDAS, path.resolve(path.dirname(file), specifier)).split(path.sep).join('/'))
        // The client's protocol types, shared with the server: outside lambdas/, and importing nothing of it.
        .filter((imported) => !imported.startsWith('../')),
      packages: specifiers.filter((specifier) => !specifier.startsWith('.')),
    });
  }
  return files;
}

const files = sourceFiles();
const byName = new Map(files.map((file) => [file.name, file]));

/** Every import cycle, each as the modules around it, found by a depth-first walk. */
function cycles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const next of byName.get(name)?.imports ?? []) {
      if (state.get(next) === 'visiting') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const { name } of files) if (!state.has(name)) visit(name);
  return found;
}

describe('lambdas/ in layers', () => {
  it('has every file in one of the layers, none at its root', () => {
    expect(files.filter((file) => !LAYERS.includes(file.layer)).map((file) => file.name)).toEqual([]);
  });

  it('resolves every relative import to a file of lambdas/', () => {
    const unresolved = files.flatMap((file) => file.imports.filter((imported) => !byName.has(imported)).map((imported) => `${file.name} → ${imported}`));
    expect(unresolved).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles().map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('imports only downwards: handlers → transport → wiring → core → contract', () => {
    const upwards = files.flatMap((file) =>
      file.imports
        .filter((imported) => LAYERS.indexOf(byName.get(imported)?.layer ?? file.layer) < LAYERS.indexOf(file.layer))
        .map((imported) => `${file.name} → ${imported}`),
    );
    expect(upwards).toEqual([]);
  });

  it('keeps contract/ free of runtime dependencies, so that the construct can import it', () => {
    expect(files.filter((file) => file.layer === 'contract' && file.packages.length > 0).map((file) => `${file.name}: ${file.packages.join(', ')}`)).toEqual([]);
  });

  it('reads the environment in wiring/ alone, through the contract', () => {
    expect(files.filter((file) => file.layer !== 'wiring' && /process\.env\b/.test(file.text)).map((file) => file.name)).toEqual([]);
  });

  it('builds SDK clients and the connection table in wiring/ alone, where a remover always gets the counts table', () => {
    const building = files.filter(
      (file) => file.layer !== 'wiring' && (/new ConnectionTable\(/.test(file.text) || (file.layer === 'handlers' && file.packages.some((name) => name.startsWith('@aws-sdk/')))),
    );
    expect(building.map((file) => file.name)).toEqual([]);
  });
});
