#!/usr/bin/env node
// The `ws-notify` bin. npm links a package's bin as it is, so this JavaScript file runs first and
// loads the TypeScript entry through tsx, as `npm start` runs local/start.ts.
// The SDK's notice that it will need Node 22 would repeat on every command; the deployed functions
// already run on Node 22, so the CLI leaves it off unless you ask for it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Registered for the whole process, not scoped (tsx's `require`): a scoped load tags every path
// require.resolve returns with a query, and `ws-notify local` resolves the CDK CLI's file to run it.
require('tsx/cjs/api').register();
require('./ws-notify.ts');
