/**
 * #15, scenario 1's floor: the echo (echo-server.ts) plus only the parts of a POST that no
 * implementation of the contract can skip, done with this codebase's own pieces: the stored event
 * built (server id and time, the README event's fields), its hash, and the group commit through
 * the all-in-one's queue to the SQLite writer thread (row, indexes, rollups, FULL commit), answered
 * once durable. No token, tenant check, rate limit, validation, metrics, logging, stream feed or
 * sealer (the sealer's CPU is added by hand in docs/benchmarks.md). If this server cannot reach 0.6 ×
 * the echo on this machine, no server that stores what ours stores can. cpu-budget.ts runs it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import { inputToEvent, type LogEventInput } from '@logserver/shared/schemas/log-event';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { ThreadedSqliteLogStore } from '@logserver/shared/sqlite/threaded-log-store';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import Fastify from 'fastify';
import { v7 as uuidv7 } from 'uuid';

const path = join(process.env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'logserver-floor-')), 'logserver.db');
const store = new ThreadedSqliteLogStore(SqliteLogStore.open(path), path);
const actor = { tenant: 'floor', sub: 'bench' };
const tenant = tenantOf(actor);
const queue = new InProcessLogQueue();
await queue.consume(async (events) => {
  await store.append(tenant, events);
});

const app = Fastify({ logger: false });
app.post('/floor', async (request) => {
  // The README event needs no defaults; a body without severity would get the schema's.
  const input = request.body as LogEventInput;
  const event = inputToEvent({ ...input, severity: input.severity ?? 'INFO' }, actor, uuidv7(), new Date());
  await queue.publish([event]);
  return { code: 200, msg: 'ok', data: event };
});
app.get('/healthz', async () => ({ status: 'ok' }));

process.once('SIGTERM', () => {
  app
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1', backlog: 4096 });
