// Loaded (NODE_OPTIONS=--require) into every Node process of a `cdk synth` the local runtime runs,
// to learn what the synth read: the modules the CDK app loaded, and for each NodejsFunction bundle
// the esbuild command CDK ran and the files esbuild read (its metafile). The runtime uses this to
// reuse the synth while none of them changed, and to rebuild only the bundles an edit touches.
// Plain CommonJS: it runs before any TypeScript loader, in the CLI, npx and tsx processes as well.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const recordDir = process.env.WS_NOTIFY_SYNTH_RECORD;
const BUNDLING_MODULE = path.join('aws-cdk-lib', 'aws-lambda-nodejs', 'lib', 'bundling.js');
const CDK_LIB = `${path.sep}aws-cdk-lib${path.sep}`;

if (recordDir) {
  const bundles = [];
  let isCdkApp = false;
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    const result = compile.apply(this, arguments);
    if (filename.includes(CDK_LIB)) isCdkApp = true;
    if (filename.endsWith(BUNDLING_MODULE)) recordBundling(this.exports.Bundling, bundles);
    return result;
  };
  // Only the process that ran the app (it loaded aws-cdk-lib) reports; the CLI, npx and tsx do not.
  process.on('exit', () => {
    if (!isCdkApp) return;
    const record = { modules: Object.keys(require.cache), bundles };
    fs.writeFileSync(path.join(recordDir, `${process.pid}.json`), JSON.stringify(record));
  });
}

/** Wraps NodejsFunction's local bundling so that each bundle's esbuild step is recorded as it runs. */
function recordBundling(Bundling, bundles) {
  const execute = Bundling.prototype.executeBundlingSteps;
  Bundling.prototype.executeBundlingSteps = function (scope, steps) {
    const [step] = steps;
    let command = step && step.type === 'spawn' ? step.command : [];
    const outfile = command.find((arg) => arg.startsWith('--outfile='))?.slice('--outfile='.length);
    // Command hooks, tsc pre-compilation or installed node modules run code that reads what it likes:
    // such a bundle is recorded as one the runtime cannot rebuild, and its synth as not reusable.
    if (steps.length !== 1 || !command.includes('--bundle') || !outfile) {
      bundles.push({ rebuildable: false, scope: scope.node.path });
      return execute.call(this, scope, steps);
    }
    const cwd = step.cwd ?? this.projectRoot;
    const binary = localEsbuild(command, cwd);
    if (binary) command = [binary, ...command.slice(command.indexOf('--bundle'))];
    const ownMetafile = command.find((arg) => arg.startsWith('--metafile='))?.slice('--metafile='.length);
    // Written outside the bundle's directory, so that the asset is what `cdk synth` alone makes.
    const metafile = ownMetafile ?? path.join(recordDir, `${process.pid}-${bundles.length}.meta.json`);
    const run = [{ ...step, command: ownMetafile ? command : [...command, `--metafile=${metafile}`] }];
    const result = execute.call(this, scope, run);
    const meta = JSON.parse(fs.readFileSync(path.resolve(cwd, metafile), 'utf8'));
    bundles.push({
      rebuildable: true,
      command,
      cwd,
      environment: this.props.environment ?? {},
      searchPath: process.env.PATH ?? '',
      outputDir: path.dirname(path.resolve(cwd, outfile)),
      outputFile: path.basename(outfile),
      outputSha256: crypto.createHash('sha256').update(fs.readFileSync(path.resolve(cwd, outfile))).digest('hex'),
      inputs: Object.keys(meta.inputs).map((input) => path.resolve(cwd, input)),
    });
    return result;
  };
}

/**
 * `npx --no-install esbuild …` (how CDK runs the project's own esbuild) costs npm's start-up, half
 * a second of CPU per bundle: the same binary, found as npx finds it (node_modules/.bin from the
 * working directory up), starts at once. Undefined where the runner is something else.
 */
function localEsbuild(command, cwd) {
  const runner = command.slice(0, command.indexOf('--bundle'));
  if (runner.join(' ') !== 'npx --no-install esbuild') return undefined;
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const binary = path.join(dir, 'node_modules', '.bin', 'esbuild');
    if (fs.existsSync(binary)) return binary;
    if (path.dirname(dir) === dir) return undefined;
  }
}
