import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { Unavailable } from '@logserver/shared/errors/catalogue';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogFeed } from '@logserver/shared/in-process/log-feed';

import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import type { LogQueue } from '@logserver/shared/queue/port';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { SqliteIdempotencyStore } from '@logserver/shared/sqlite/idempotency-store';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { SqliteStreamLog } from '@logserver/shared/sqlite/stream-log';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildLogApp } from '../../src/app.js';

const WRITER = { 'x-auth-sub': 'writer-1', 'x-auth-tenant': 'acme', 'x-auth-role': 'writer' };

/**
 * The log API on a real SQLite file and the real in-process queue, with one seam: each publish
 * first waits for `gate` (to hold a request in flight) and may be told to fail after the events
 * were stored, as an SQS publish that timed out yet was accepted.
 */
describe('keyed ingest: in flight, and a publish that failed after it was accepted', () => {
  let app: FastifyInstance;
  let logs: SqliteLogStore;
  let path: string;
  let gate: Promise<void> | null;
  let failAfterStoring: number;
  beforeEach(async () => {
    path = join(mkdtempSync(join(tmpdir(), 'keyed-ingest-')), 'logserver.db');
    logs = SqliteLogStore.open(path);
    const inner = new InProcessLogQueue();
    await inner.consume(createStoreHandler(logs).handle);
    gate = null;
    failAfterStoring = 0;
    const queue: LogQueue = {
      async publish(events: LogEvent[]) {
        await gate;
        await inner.publish(events);
        if (failAfterStoring > 0) {
          failAfterStoring--;
          throw new Unavailable('publish timed out');
        }
      },
      consume: (handler) => inner.consume(handler),
      ping: () => inner.ping(),
      close: () => inner.close(),
    };
    app = createServer({ logLevel: 'silent' });
    await app.register(
      buildLogApp(
        {
          store: logs,
          queue,
          feed: new InProcessLogFeed(),
          streamLog: new SqliteStreamLog(path),
          identity: gatewayIdentity(),
          idempotency: SqliteIdempotencyStore.open(path),
        },
        { adminTenant: 'system', idempotency: { leaseSeconds: 1 } },
      ),
    );
  });
  afterEach(async () => {
    await app.close();
    await logs.close();
  });

  const post = (key: string, body: object = { action: 'a', resource_type: 'r' }) =>
    app.inject({ method: 'POST', url: '/api/v1/logs', headers: { ...WRITER, 'idempotency-key': key }, payload: body });
  const count = async () => (await logs.query(tenantOf({ tenant: 'acme' }), {}, { kind: 'offset', page: 1, size: 100, sort: 'asc' })).items;

  it('answers 409 while the first request with the key is in flight, then replays it', async () => {
    let open = () => {};
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const first = post('k');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const during = await post('k');
    expect(during.statusCode).toBe(409);
    expect(during.json().msg).toMatch(/still being processed/);
    open();
    const answered = await first;
    expect(answered.statusCode).toBe(200);
    const after = await post('k');
    expect(after.body).toBe(answered.body);
    expect(await count()).toHaveLength(1);
  });

  it('a 503 whose events were stored anyway: the retry reuses the ids, and one event is stored', async () => {
    failAfterStoring = 1;
    const failed = await post('k', { action: 'paid', resource_type: 'invoice' });
    expect(failed.statusCode).toBe(503);
    const retried = await post('k', { action: 'paid', resource_type: 'invoice' });
    expect(retried.statusCode).toBe(200);
    const stored = await count();
    expect(stored.map((event) => event.id)).toEqual([retried.json().data.id]);
    expect(stored[0]?.received_at).toBe(retried.json().data.received_at);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('an attempt whose process stopped answering is resumed once its lease ran out', async () => {
    gate = new Promise(() => {});
    void post('k');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await post('k')).statusCode).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    gate = null;
    const resumed = await post('k');
    expect(resumed.statusCode).toBe(200);
    expect(await count()).toHaveLength(1);
  });

  it('without the idempotency store the header changes nothing (each POST stores its event)', async () => {
    const plain = createServer({ logLevel: 'silent' });
    const queue = new InProcessLogQueue();
    await queue.consume(createStoreHandler(logs).handle);
    await plain.register(
      buildLogApp(
        { store: logs, queue, feed: new InProcessLogFeed(), streamLog: new SqliteStreamLog(path), identity: gatewayIdentity() },
        { adminTenant: 'system' },
      ),
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await plain.inject({
        method: 'POST',
        url: '/api/v1/logs',
        headers: { ...WRITER, 'idempotency-key': 'k' },
        payload: { action: 'a', resource_type: 'r' },
      });
      expect(response.statusCode).toBe(200);
    }
    await plain.close();
    expect(await count()).toHaveLength(2);
  });
});
