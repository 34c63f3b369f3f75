// Runs the fauxqs SQS emulator on the Unix socket it is given. fauxqs is ESM-only and its own start
// helper binds 0.0.0.0, so it runs here, in its own process, listening where we say: on a socket no
// web page can reach, behind the runtime's loopback proxy, which refuses a DNS-rebinding page's
// Host (engine-processes.ts). It gains SQS's message move tasks (dead-letter queue redrive), which
// fauxqs lacks.
import { buildApp } from 'fauxqs';
import { addMessageMoveTasks } from './sqs-message-move-tasks.mjs';

const socketPath = process.argv[2];
if (!socketPath) throw new Error('usage: sqs-emulator.mjs <unix socket path>');
const app = buildApp({ logger: false });
addMessageMoveTasks(app);
await app.listen({ path: socketPath });
process.stdout.write(`${JSON.stringify({ listening: socketPath })}\n`);
const stop = () => app.close().then(() => process.exit(0));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stop);
// The runtime holds our stdin open: it closes it to stop us, and it closes when the runtime is gone, however it ended.
process.stdin.on('end', stop).resume();
