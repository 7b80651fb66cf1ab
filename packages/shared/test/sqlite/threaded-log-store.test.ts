import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { makeEvent } from '@logserver/testing/events';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { eventHash } from '../../src/integrity/event-hash.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { ThreadedSqliteLogStore, WriterThread } from '../../src/sqlite/threaded-log-store.js';
import { describeLogStoreContract } from '../../src/store/log-store.contract.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'logserver-threaded-')), 'logserver.db');
const threaded = (path: string, options = {}, writer?: WriterThread) =>
  new ThreadedSqliteLogStore(SqliteLogStore.open(path), path, options, writer);

describeLogStoreContract('ThreadedSqliteLogStore (writer thread, file on disk)', async () => threaded(freshFile()));

describe('ThreadedSqliteLogStore: the writer thread', () => {
  const tenant = tenantOf({ tenant: 'writer' });
  const open: ThreadedSqliteLogStore[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  it('stores and answers exactly what the store on the event loop does, hash included', async () => {
    const store = threaded(freshFile());
    open.push(store);
    const first = makeEvent(tenant);
    const { hash: _none, ...unhashed } = makeEvent(tenant);
    // A duplicate id inside one batch is stored once, and counted as a duplicate.
    const result = await store.append(tenant, [first, unhashed, { ...first }]);
    expect(result.duplicates).toBe(1);
    expect(result.inserted.map((event) => event.id)).toEqual([first.id, unhashed.id]);
    expect(result.inserted[1]?.hash).toBe(eventHash(unhashed));
    // Committed by the thread's connection, read back through the main thread's.
    expect(await store.get(tenant, unhashed.id)).toEqual(result.inserted[1]);
  });

  it('rejects with the SQLite error the thread met (same code), and keeps serving', async () => {
    const path = freshFile();
    const store = threaded(path);
    open.push(store);
    await store.append(tenant, [makeEvent(tenant)]);
    const other = new Database(path);
    other.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON logs WHEN NEW.action = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END",
    );
    other.close();
    const refused = store.append(tenant, [makeEvent(tenant), makeEvent(tenant, { action: 'refused' })]);
    await expect(refused).rejects.toBeInstanceOf(Database.SqliteError);
    await expect(refused).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_TRIGGER', message: 'refused by trigger' });
    await expect(store.append(tenantOf({ tenant: 'other' }), [makeEvent(tenant)])).rejects.toThrow(
      'event tenant does not match the tenant it is appended to',
    );
    // All or nothing: the refused batch left no event behind.
    expect((await store.query(tenant, {}, { kind: 'cursor', size: 10, sort: 'desc', after: null })).items).toHaveLength(1);
    expect((await store.append(tenant, [makeEvent(tenant)])).inserted).toHaveLength(1);
  });

  it('fails the appends in flight with 503 when the thread dies, then starts another one', async () => {
    // A thread of this test's own, so stopping it fails nothing of the other tests'.
    const writer = new WriterThread();
    const threads: Worker[] = [];
    writer.onThread = (worker) => threads.push(worker);
    const errors: Error[] = [];
    const store = threaded(freshFile(), { onError: (error: Error) => errors.push(error) }, writer);
    open.push(store);
    await store.append(tenant, [makeEvent(tenant)]);
    // Stopped while idle between requests (stopping it inside a better-sqlite3 call would take the
    // whole process down: better-sqlite3 cannot throw into an isolate being terminated), with a
    // request sent to it that it will never answer.
    const stopping = threads[0]?.terminate();
    const inFlight = store.append(
      tenant,
      Array.from({ length: 5 }, () => makeEvent(tenant)),
    );
    await stopping;
    await expect(inFlight).rejects.toMatchObject({ statusCode: 503, code: 'LOGSERVER_ERR_UNAVAILABLE' });
    expect(errors).toHaveLength(1);
    // The next append is taken by a new thread; readiness holds.
    const again = makeEvent(tenant);
    expect((await store.append(tenant, [again])).inserted).toHaveLength(1);
    expect(threads).toHaveLength(2);
    await store.ping();
    expect(await store.get(tenant, again.id)).not.toBeNull();
  });

  it('fails ping() (readiness) and the appends while the writer thread cannot open the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logserver-threaded-'));
    // The main connection opens; the thread's sees a directory where the file should be.
    const reads = SqliteLogStore.open(':memory:');
    const store = new ThreadedSqliteLogStore(reads, dir);
    open.push(store);
    await expect(store.append(tenant, [makeEvent(tenant)])).rejects.toMatchObject({ code: 'SQLITE_CANTOPEN' });
    await expect(store.ping()).rejects.toMatchObject({ code: 'SQLITE_CANTOPEN' });
  });
});
