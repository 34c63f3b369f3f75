// Runs the fauxqs SQS emulator on loopback. fauxqs is ESM-only and its own start helper binds
// 0.0.0.0, so it runs here, in its own process, listening where we say. It gains SQS's message
// move tasks (dead-letter queue redrive), which fauxqs lacks.
import { buildApp } from 'fauxqs';
import { addMessageMoveTasks } from './sqs-message-move-tasks.mjs';

const port = Number(process.argv[2] ?? 0);
const app = buildApp({ logger: false });
addMessageMoveTasks(app);
await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
const stop = () => app.close().then(() => process.exit(0));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stop);
// The runtime holds our stdin open: it closes it to stop us, and it closes when the runtime is gone, however it ended.
process.stdin.on('end', stop).resume();
