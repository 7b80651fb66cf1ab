import { makeEvent, seededRandom } from '@logserver/testing/events';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { type BulkWriteResult, MongoBulkWriteError, MongoServerError, type WriteError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoLogStore } from '../../src/mongo/log-store.js';
import { LOGS_COLLECTION } from '../../src/mongo/logs-collection.js';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { compareEvents } from '../../src/store/filter.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const options = { queryTimeoutMs: 1_234, pingTimeoutMs: 100 };

/**
 * The driver's own error class, built as the driver builds it for an unordered insertMany (its
 * WriteError class is not exported; its instances expose the same index, code and errmsg).
 */
function driverBulkError(writeErrors: { index: number; code: number }[], insertedCount: number): MongoBulkWriteError {
  return new MongoBulkWriteError(
    {
      message: 'E11000 duplicate key error',
      code: writeErrors[0]?.code ?? 0,
      writeErrors: writeErrors.map((writeError) => ({ ...writeError, errmsg: `code ${writeError.code}` }) as unknown as WriteError),
    },
    { insertedCount } as BulkWriteResult,
  );
}

async function open() {
  const db = new MingoMongoDatabase();
  const store = await MongoLogStore.open(db, options);
  return {
    db,
    store,
    operations: (method: string) => db.operations.filter((op) => op.collection === LOGS_COLLECTION && op.method === method),
  };
}

describe('MongoLogStore append', () => {
  it('sends one unordered insertMany and counts the unique index’s refusals as duplicates', async () => {
    const { store, operations } = await open();
    const first = makeEvent(A);
    await store.append(A, [first]);
    const second = makeEvent(A);
    const result = await store.append(A, [first, second, second]);
    expect(result).toEqual({ inserted: [second], duplicates: 2 });
    expect(operations('insertMany').map((op) => op.options)).toEqual([{ ordered: false }, { ordered: false }]);
  });

  it('reads the driver’s own MongoBulkWriteError: duplicate keys are success', async () => {
    const { db, store } = await open();
    const [stored, fresh] = [makeEvent(A), makeEvent(A)];
    db.failNextOperation(driverBulkError([{ index: 0, code: 11000 }], 1));
    expect(await store.append(A, [stored, fresh])).toEqual({ inserted: [fresh], duplicates: 1 });
  });

  it('fails the whole batch on any other write error, so the queue delivers it again', async () => {
    const { db, store } = await open();
    db.failNextOperation(
      driverBulkError(
        [
          { index: 0, code: 11000 },
          { index: 1, code: 121 },
        ],
        0,
      ),
    );
    await expect(store.append(A, [makeEvent(A), makeEvent(A)])).rejects.toBeInstanceOf(MongoBulkWriteError);
  });

  it('fails the whole batch on a write concern error, even when the rest were duplicates', async () => {
    const { db, store } = await open();
    const error = driverBulkError([{ index: 0, code: 11000 }], 0);
    Object.assign(error, { writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } });
    db.failNextOperation(error);
    await expect(store.append(A, [makeEvent(A)])).rejects.toThrow();
  });

  it('stores timestamps as dates, so ranges and order are those of time', async () => {
    const { db, store } = await open();
    await store.append(A, [makeEvent(A, { timestamp: '2025-01-01T00:00:00.000Z' })]);
    const [stored] = await db.collection<{ timestamp: unknown; received_at: unknown }>(LOGS_COLLECTION).find({}).toArray();
    expect(stored?.timestamp).toBeInstanceOf(Date);
    expect(stored?.received_at).toBeInstanceOf(Date);
  });
});

describe('MongoLogStore reads', () => {
  it('includes an event exactly at from, and excludes one exactly at to or at the cleanup boundary', async () => {
    const { store } = await open();
    const at = (timestamp: string) => makeEvent(A, { timestamp });
    const [early, from, to] = [at('2025-01-31T23:59:59.999Z'), at('2025-02-01T00:00:00.000Z'), at('2025-03-01T00:00:00.000Z')];
    await store.append(A, [early, from, to]);
    const page = await store.query(A, { from: from.timestamp, to: to.timestamp }, { kind: 'offset', page: 1, size: 10, sort: 'asc' });
    expect(page.items.map((event) => event.id)).toEqual([from.id]);
    expect(await store.deleteOlderThan(A, from.timestamp)).toBe(1);
    expect(await store.get(A, early.id)).toBeNull();
    expect(await store.get(A, from.id)).toEqual(from);
  });

  it('bounds search and user_agent queries with maxTimeMS, and not the indexed ones', async () => {
    const { store, operations } = await open();
    await store.query(A, { search: 'x' }, { kind: 'offset', page: 1, size: 10, sort: 'desc' });
    await store.stats(A, { user_agent: 'curl' }, { groupBy: 'severity' });
    await store.query(A, { action: 'x' }, { kind: 'offset', page: 1, size: 10, sort: 'desc' });
    expect(operations('find').map((op) => op.options?.maxTimeMS)).toEqual([1_234, undefined]);
    expect(operations('countDocuments').map((op) => op.options?.maxTimeMS)).toEqual([1_234, undefined]);
    expect(operations('aggregate').map((op) => op.options?.maxTimeMS)).toEqual([1_234]);
  });

  it('hints the group’s index when only time narrows the stats, so the count reads the index alone', async () => {
    const { store, operations } = await open();
    await store.stats(A, {}, { groupBy: 'severity' });
    await store.stats(A, { from: '2025-01-01T00:00:00.000Z' }, { groupBy: 'resource_type', interval: 'day' });
    await store.stats(A, { severity: ['ERROR'] }, { groupBy: 'severity' });
    await store.stats(A, { action: 'login' }, { groupBy: 'severity' });
    expect(operations('aggregate').map((op) => op.options?.hint)).toEqual([
      'tenant_severity_timestamp',
      'tenant_resource_timestamp',
      'tenant_severity_timestamp',
      undefined,
    ]);
  });

  it('turns a query the server stopped at maxTimeMS into a 503 that says how to narrow it', async () => {
    const { db, store } = await open();
    db.failNextOperation(new MongoServerError({ message: 'operation exceeded time limit', code: 50, codeName: 'MaxTimeMSExpired' }));
    await expect(store.query(A, { search: 'x' }, { kind: 'cursor', after: null, size: 10, sort: 'desc' })).rejects.toMatchObject({
      statusCode: 503,
      code: 'LOGSERVER_ERR_QUERY_TIMEOUT',
      message: expect.stringContaining('1234 ms'),
    });
  });

  it('exports through one cursor read in batches of 100 (a stalled export holds one batch: issue 13)', async () => {
    const { store, operations } = await open();
    const events = Array.from({ length: 30 }, () => makeEvent(A));
    await store.append(A, events);
    const seen: LogEvent[] = [];
    for await (const event of store.export(A, {}, 'asc')) seen.push(event);
    expect(seen).toEqual([...events].sort(compareEvents));
    expect(operations('find')).toHaveLength(1);
    expect(operations('find')[0]?.options).toMatchObject({ batchSize: 100, sort: { timestamp: 1, id: 1 } });
  });

  it('counts per hour and per day bucket as an independent count does, listing only non-empty buckets', async () => {
    const { store } = await open();
    const random = seededRandom(7);
    const events = Array.from({ length: 200 }, () => makeEvent(A, {}, random));
    await store.append(A, events);
    await store.append(A, events.slice(0, 50));
    for (const [interval, length] of [
      ['hour', 13],
      ['day', 10],
    ] as const) {
      const want = new Map<string, Record<string, number>>();
      for (const event of events) {
        const start = `${event.timestamp.slice(0, length)}${interval === 'hour' ? ':00:00.000Z' : 'T00:00:00.000Z'}`;
        const counts = want.get(start) ?? {};
        counts[event.action] = (counts[event.action] ?? 0) + 1;
        want.set(start, counts);
      }
      const result = await store.stats(A, {}, { groupBy: 'action', interval });
      expect(result.buckets).toEqual(
        [...want.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([start, counts]) => ({ start, counts })),
      );
      expect(Object.values(result.totals).reduce((sum, n) => sum + n, 0)).toBe(events.length);
    }
  });

  it('answers ping, and fails it within the timeout while the server does not answer', async () => {
    const { db, store } = await open();
    await expect(store.ping()).resolves.toBeUndefined();
    db.reachable = false;
    await expect(store.ping()).rejects.toMatchObject({ statusCode: 503 });
  });
});
