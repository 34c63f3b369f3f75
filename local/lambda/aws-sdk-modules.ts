import { mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Lambda's Node.js runtimes carry the AWS SDK for JavaScript v3 on their NODE_PATH, so a function
 * may leave `@aws-sdk/*` out of its bundle, as NodejsFunction does by default. Locally the SDK this
 * tool installs plays that part: its `@aws-sdk` folder is linked into a folder of its own under the
 * state directory, which is the functions' NODE_PATH. Only the SDK, not the rest of this tool's
 * node_modules (aws-cdk-lib, ws, …): a package a bundle lacks fails here as it would on Lambda.
 * Returns that folder.
 */
export function linkAwsSdk(stateDir: string): string {
  const sdk = path.resolve(require.resolve('@aws-sdk/client-dynamodb/package.json'), '..', '..');
  const modules = path.join(stateDir, 'lambda-runtime', 'node_modules');
  mkdirSync(modules, { recursive: true });
  const link = path.join(modules, '@aws-sdk');
  // Left as it is when it is right: a reload calls this while functions may be loading through it.
  if (linkTarget(link) !== sdk) {
    rmSync(link, { force: true });
    symlinkSync(sdk, link, 'junction');
  }
  return modules;
}

function linkTarget(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}
