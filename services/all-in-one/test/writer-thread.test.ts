import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { WriterThread } from '@logserver/shared/sqlite/threaded-log-store';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

// The all-in-one appends on the SQLite writer thread (SQLITE_APPEND_THREAD, docs/architecture.md):
// what goes wrong there reaches the POST as an envelope error, never a hang.
let server: RunningServer;
let writer: string;
const threads: Worker[] = [];
beforeAll(async () => {
  WriterThread.shared.onThread = (worker) => threads.push(worker);
  server = await startAllInOne({ SQLITE_APPEND_THREAD: 'true' });
  writer = await server.token('acme', 'writer');
});
afterAll(async () => {
  WriterThread.shared.onThread = null;
  await server.close();
});

const post = (action: string) => call(`${server.url}/api/v1/logs`, { token: writer, body: { action, resource_type: 'user' } });

describe('the SQLite writer thread behind POST /api/v1/logs', () => {
  it('answers 200 after the thread commits, the 500 envelope for an SQLite error in it, and 200 again after it died', async () => {
    const ok = await post('first');
    expect(ok.status).toBe(200);
    expect(threads.length).toBeGreaterThanOrEqual(1);

    // An SQLite error in the thread: the envelope of any store error (500, message not leaked).
    const file = join(server.dataDir, 'logserver.db');
    const other = new Database(file);
    other.exec("CREATE TRIGGER refuse BEFORE INSERT ON logs WHEN NEW.action = 'refused' BEGIN SELECT RAISE(ABORT, 'no'); END");
    const refused = await post('refused');
    expect(refused.status).toBe(500);
    expect(refused.body).toEqual({ code: 500, msg: 'Internal Server Error', data: null });
    other.close();

    // A thread that died: the next POST starts another one. (A request in flight when it dies gets
    // 503: packages/shared/test/sqlite/threaded-log-store.test.ts.)
    const dead = threads.at(-1);
    await dead?.terminate();
    // The retry is taken by a new thread; readiness holds.
    const again = await post('again');
    expect(again.status).toBe(200);
    expect(threads.at(-1)).not.toBe(dead);
    expect((await call(`${server.url}/readyz`)).status).toBe(200);
  });
});
