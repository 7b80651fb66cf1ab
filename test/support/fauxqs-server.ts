import { startFauxqs } from './fauxqs.js';

// fauxqs as a process of its own, so a test can stop (SIGSTOP) or kill it like a real SQS outage.
// FAUXQS_PORT picks the port (0: any free one); the first stdout line says which one it got.
const server = await startFauxqs(Number(process.env.FAUXQS_PORT ?? 0));
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.on('SIGTERM', () => {
  server.stop().finally(() => process.exit(0));
});
