import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeLog } from '@logserver/log/compose';
import { LogConfig } from '@logserver/log/config';
import { composeLogWorker } from '@logserver/log-worker/compose';
import { LogWorkerConfig } from '@logserver/log-worker/config';
import { loadConfig } from '@logserver/shared/config/load-config';
import { openSqlite } from '@logserver/shared/sqlite/database';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fauxqs, startFauxqs } from '../support/fauxqs.js';
import { postEvents, sampleEvent } from '../support/pipeline.js';
import { deliveryProblems, Receiver } from '../support/stream-receivers.js';

// The k8s shape, composed in this process to keep it quick (test/pipeline's other files run the same
// services as processes): the log service serves /api/v1/streams and publishes to SQS (fauxqs), the
// log-worker stores and delivers, both on one SQLite file with the same STREAM_SECRET_KEY
// (docs/streams.md "Where delivery runs").
describe('SQS pipeline: the log-worker delivers the streams the log service configures', () => {
  let fauxqs: Fauxqs;
  let receiver: Receiver;
  let log: FastifyInstance;
  let worker: FastifyInstance;
  let logUrl: string;
  let workerUrl: string;
  let sqlitePath: string;
  beforeAll(async () => {
    [fauxqs, receiver] = await Promise.all([startFauxqs(), Receiver.start('datadog', 'dd-key-pipeline')]);
    sqlitePath = join(mkdtempSync(join(tmpdir(), 'logserver-streams-pipeline-')), 'logserver.db');
    const env = {
      PORT: '0',
      LOG_LEVEL: 'silent',
      SQS_URL: fauxqs.endpoint,
      SQLITE_PATH: sqlitePath,
      SQS_WAIT_TIME_SECONDS: '1',
      AUTH_REQUIRE_REGISTERED_TENANT: 'false',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      STREAM_SECRET_KEY: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      STREAM_DESTINATION_ALLOW: '127.0.0.1',
      STREAM_INTERVAL_MS: '50',
    };
    ({ app: log } = await composeLog(loadConfig(LogConfig, env)));
    logUrl = await log.listen({ port: 0, host: '127.0.0.1' });
    ({ app: worker } = await composeLogWorker(loadConfig(LogWorkerConfig, env)));
    workerUrl = await worker.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await log?.close();
    await Promise.all([fauxqs?.stop(), receiver?.close()]);
  });

  const storedOrder = (tenant: string): string[] => {
    const db = openSqlite(sqlitePath);
    try {
      return (db.prepare('SELECT id FROM logs WHERE tenant_id = ? ORDER BY seq').all(tenant) as { id: string }[]).map((row) => row.id);
    } finally {
      db.close();
    }
  };

  it('sends every acknowledged event to the destination, in commit order', async () => {
    const admin = { 'content-type': 'application/json', 'x-auth-sub': 'admin-1', 'x-auth-tenant': 'tenant-l', 'x-auth-role': 'admin' };
    const created = await vi.waitFor(
      async () => {
        const response = await fetch(`${logUrl}/api/v1/streams`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ kind: 'datadog', name: 'dd', url: receiver.url, api_key: 'dd-key-pipeline' }),
        });
        expect(response.status).toBe(200);
        return response;
      },
      { timeout: 10_000 },
    );
    const id = ((await created.json()) as { data: { id: string } }).data.id;
    for (let batch = 0; batch < 4; batch++) {
      const posted = await postEvents(
        logUrl,
        'tenant-l',
        Array.from({ length: 25 }, (_, index) => sampleEvent(batch * 25 + index)),
      );
      expect(posted.acknowledged).toHaveLength(25);
    }
    await vi.waitFor(() => expect(storedOrder('tenant-l')).toHaveLength(100), { timeout: 20_000 });
    await vi.waitFor(() => expect(receiver.uniqueEvents).toBe(100), { timeout: 20_000 });
    expect(deliveryProblems(receiver.batches, storedOrder('tenant-l'))).toEqual([]);
    // The state the log service answers is what the worker saved; the worker's /metrics shows it too.
    await vi.waitFor(async () => {
      const state = await fetch(`${logUrl}/api/v1/streams/${id}`, { headers: admin });
      expect(((await state.json()) as { data: { state: unknown } }).data.state).toMatchObject({ delivered_events: 100, caught_up: true });
    });
    const metrics = await (await fetch(`${workerUrl}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`stream_destination_delivered_events\\{tenant="tenant-l",destination="${id}",kind="datadog"\\} 100`),
    );
  }, 60_000);
});
