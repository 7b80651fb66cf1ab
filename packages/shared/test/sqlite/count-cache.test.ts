import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { COUNT_CACHE_LIMITS, CountCache } from '../../src/sqlite/count-cache.js';
import { openSqlite } from '../../src/sqlite/database.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { ThreadedSqliteLogStore, WriterThread } from '../../src/sqlite/threaded-log-store.js';
import type { PageRequest } from '../../src/store/port.js';
import { type TenantId, tenantOf } from '../../src/store/tenant-id.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'logserver-count-cache-')), 'logserver.db');
const tenant = tenantOf({ tenant: 'counted' });
const firstPage: PageRequest = { kind: 'offset', page: 1, size: 10, sort: 'desc' };

/** A cache on its own connection to a fresh file with one table, and a count that says how often it ran. */
function cacheOnFile() {
  const path = freshFile();
  const db = openSqlite(path);
  db.exec('CREATE TABLE t (x)');
  const cache = new CountCache(db);
  let runs = 0;
  const count = () => {
    runs += 1;
    return (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  };
  return { path, db, cache, count, runs: () => runs };
}

describe('CountCache: a count kept only while the file is unchanged', () => {
  it('counts once while nothing is written, again after another connection commits or this one changes a row', () => {
    const { path, db, cache, count, runs } = cacheOnFile();
    expect(cache.get(tenant, 'k', count)).toBe(0);
    expect(cache.get(tenant, 'k', count)).toBe(0);
    expect(runs()).toBe(1);

    const other = openSqlite(path);
    other.prepare('INSERT INTO t VALUES (1)').run();
    expect(cache.get(tenant, 'k', count)).toBe(1);
    expect(runs()).toBe(2);

    db.prepare('INSERT INTO t VALUES (2)').run();
    expect(cache.get(tenant, 'k', count)).toBe(2);
    other.prepare('DELETE FROM t').run();
    expect(cache.get(tenant, 'k', count)).toBe(0);
    expect(runs()).toBe(4);
    other.close();
    db.close();
  });

  it('never serves a count made before a commit it did not see: a commit during the count makes the next request count again', () => {
    const { path, db, cache } = cacheOnFile();
    const other = openSqlite(path);
    // The commit lands after the version was read and before the count: the count sees it, and the
    // version it was kept under is already old.
    const countAfterACommit = () => {
      other.prepare('INSERT INTO t VALUES (1)').run();
      return (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    };
    expect(cache.get(tenant, 'k', countAfterACommit)).toBe(1);
    let again = 0;
    expect(
      cache.get(tenant, 'k', () => {
        again += 1;
        return (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
      }),
    ).toBe(1);
    expect(again).toBe(1);
    other.close();
    db.close();
  });

  it(`keeps at most ${COUNT_CACHE_LIMITS.perTenant} counts a tenant and ${COUNT_CACHE_LIMITS.tenants} tenants; one tenant's filters never push out another's`, () => {
    const { db, cache } = cacheOnFile();
    const quiet = tenantOf({ tenant: 'quiet' });
    cache.get(quiet, 'mine', () => 7);
    const hostile = tenantOf({ tenant: 'hostile' });
    for (let n = 0; n < 1000; n++) cache.get(hostile, `filter ${n}`, () => n);
    expect(cache.sizes().get(hostile)).toBe(COUNT_CACHE_LIMITS.perTenant);
    expect(cache.get(quiet, 'mine', () => -1)).toBe(7);

    for (let n = 0; n < COUNT_CACHE_LIMITS.tenants + 50; n++) cache.get(`t${n}` as TenantId, 'k', () => n);
    expect(cache.sizes().size).toBe(COUNT_CACHE_LIMITS.tenants);
    expect([...cache.sizes().values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(
      COUNT_CACHE_LIMITS.tenants * COUNT_CACHE_LIMITS.perTenant,
    );
    db.close();
  });

  it(`counts a key longer than ${COUNT_CACHE_LIMITS.keyChars} characters every time and keeps nothing of it`, () => {
    const { db, cache } = cacheOnFile();
    const key = 'x'.repeat(COUNT_CACHE_LIMITS.keyChars + 1);
    let runs = 0;
    const count = () => ++runs;
    expect(cache.get(tenant, key, count)).toBe(1);
    expect(cache.get(tenant, key, count)).toBe(2);
    expect(cache.sizes().get(tenant) ?? 0).toBe(0);
    db.close();
  });
});

describe('the list total (meta.total) with the cache, through the stores', () => {
  it('is exact after appends on the writer thread, a delete on the reading connection and appends by another process’s connection', async () => {
    const path = freshFile();
    const random = seededRandom(11);
    const reads = SqliteLogStore.open(path);
    const writer = new WriterThread();
    const store = new ThreadedSqliteLogStore(reads, path, {}, writer);
    const total = async () => (await store.query(tenant, { severity: ['ERROR'] }, firstPage)).total;
    const textTotal = async () => (await store.queryText(tenant, { severity: ['ERROR'] }, firstPage)).total;
    try {
      const old = Array.from({ length: 5 }, () => makeEvent(tenant, { severity: 'ERROR', timestamp: '2020-01-01T00:00:00.000Z' }, random));
      await store.append(tenant, old);
      expect(await total()).toBe(5);
      expect(await total()).toBe(5);

      await store.append(tenant, [makeEvent(tenant, { severity: 'ERROR' }, random), makeEvent(tenant, { severity: 'INFO' }, random)]);
      expect(await total()).toBe(6);
      expect(await textTotal()).toBe(6);

      expect(await store.deleteOlderThan(tenant, '2021-01-01T00:00:00.000Z')).toBe(5);
      expect(await total()).toBe(1);

      const elsewhere = SqliteLogStore.open(path);
      await elsewhere.append(tenant, [makeEvent(tenant, { severity: 'ERROR' }, random)]);
      await elsewhere.close();
      expect(await total()).toBe(2);
      expect(await textTotal()).toBe(2);
    } finally {
      await store.close();
    }
  });
});
