#!/usr/bin/env node
// The `ws-notify` bin. npm links a package's bin as it is, so this JavaScript file runs first and
// loads the TypeScript entry through tsx, as `npm start` runs local/start.ts.
// The SDK's notice that it will need Node 22 would repeat on every command; the deployed functions
// already run on Node 22, so the CLI leaves it off unless you ask for it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs/api').require('./ws-notify.ts', __filename);
