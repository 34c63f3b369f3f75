import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { linkAwsSdk } from '../../local/lambda/aws-sdk-modules';
import { FunctionError, LocalFunction } from '../../local/lambda/functions';

/**
 * A bundle that leaves the AWS SDK to the runtime (NodejsFunction's default) finds it, as on Lambda;
 * another package it lacks stays missing, as on Lambda. The bundle sits outside this repository, so
 * that nothing resolves by walking up to its node_modules.
 */
let scratch: string;
let fn: LocalFunction;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'aws-sdk-modules-'));
  const codeDir = path.join(scratch, 'asset');
  mkdirSync(codeDir);
  writeFileSync(path.join(codeDir, 'index.js'), 'exports.handler = async ({ moduleName }) => Object.keys(require(moduleName)).length > 0;');
  fn = new LocalFunction(
    { logicalId: 'SdkUser', name: 'sdk-user', runtime: 'nodejs22.x', codeDir, handler: 'index.handler', environment: {}, timeoutSeconds: 10, memoryMb: 128 },
    { baseEnvironment: { NODE_PATH: linkAwsSdk(path.join(scratch, 'state')) }, maxInstances: 1, log: () => undefined },
  );
});

afterAll(async () => {
  await fn?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the AWS SDK for functions that do not bundle it', () => {
  it('resolves @aws-sdk/* clients from the runtime, as Lambda provides them', async () => {
    expect(await fn.invoke({ moduleName: '@aws-sdk/client-dynamodb' })).toBe(true);
    expect(await fn.invoke({ moduleName: '@aws-sdk/client-apigatewaymanagementapi' })).toBe(true);
  });

  it('does not resolve the rest of the tool’s node_modules, which Lambda does not have', async () => {
    await expect(fn.invoke({ moduleName: 'ws' })).rejects.toThrow(FunctionError);
    await expect(fn.invoke({ moduleName: 'ws' })).rejects.toThrow(/Cannot find module 'ws'/);
  });
});
