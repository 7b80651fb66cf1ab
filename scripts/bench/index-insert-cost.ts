/**
 * What the logs table's (tenant_id, seq) index costs on insert, and what it saves a small tenant's
 * verify read (issue 13). Two SQLite files in one run, the same SqliteLogStore and the same events:
 * one with the index, one with it dropped. Bulk appends of 1000 events alternate between the files,
 * so load from other processes falls on both sides alike. Prints events/s per side and the ratio.
 *
 *   node --conditions=development --import tsx scripts/bench/index-insert-cost.ts [events per side, default 100000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { SqliteIntegrityStore } from '@logserver/shared/sqlite/integrity-store';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { makeEvent, seededRandom } from '@logserver/testing/events';

const EVENTS = Number(process.argv[2] ?? 100_000);
const BULK = 1000;
const TENANTS = 20;

const dir = mkdtempSync(join(tmpdir(), 'logserver-index-cost-'));
const withIndex = join(dir, 'with-index.db');
const withoutIndex = join(dir, 'without-index.db');
try {
  const stores = { with: SqliteLogStore.open(withIndex), without: SqliteLogStore.open(withoutIndex) };
  const drop = openSqlite(withoutIndex);
  drop.exec('DROP INDEX logs_tenant_seq');
  drop.close();

  const random = seededRandom(13);
  const tenants = Array.from({ length: TENANTS }, (_, index) => `cost-${index}`);
  const elapsed = { with: 0, without: 0 };
  for (let done = 0; done < EVENTS; done += BULK) {
    // A bulk belongs to one tenant, as a bulk POST does; tenants take turns.
    const tenant = tenants[(done / BULK) % TENANTS] as string;
    const batch = Array.from({ length: Math.min(BULK, EVENTS - done) }, () => makeEvent(tenant, {}, random));
    const order = (done / BULK) % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
    for (const side of order) {
      const started = performance.now();
      await stores[side].append(tenantOf({ tenant }), batch);
      elapsed[side] += performance.now() - started;
    }
  }
  // The benefit: a 2-event tenant's verify read among EVENTS events of others.
  const tiny = tenantOf({ tenant: 'cost-tiny' });
  const tinyEvents = [makeEvent(tiny, {}, random), makeEvent(tiny, {}, random)];
  const reads = { with: 0, without: 0 };
  for (const side of ['with', 'without'] as const) {
    await stores[side].append(tiny, tinyEvents);
    await stores[side].close();
  }
  const READS = 20;
  for (const side of ['with', 'without'] as const) {
    const path = side === 'with' ? withIndex : withoutIndex;
    const db = openSqlite(path);
    const hasIndex = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'logs_tenant_seq'").get() !== undefined;
    if (hasIndex !== (side === 'with')) throw new Error(`${side}: the index is ${hasIndex ? 'there' : 'missing'}`);
    const sql =
      side === 'with'
        ? 'SELECT seq FROM logs INDEXED BY logs_tenant_seq WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT 1000'
        : 'SELECT seq FROM logs NOT INDEXED WHERE seq > ? AND tenant_id = ? ORDER BY seq LIMIT 1000';
    const statement = db.prepare(sql);
    const params = side === 'with' ? [tiny, 0] : [0, tiny];
    const started = performance.now();
    for (let read = 0; read < READS; read++) if (statement.all(...params).length !== 2) throw new Error(`${side}: expected 2 rows`);
    reads[side] = (performance.now() - started) / READS;
    db.close();
  }
  // Through the store itself, with the index: what verify now does.
  const integrity = SqliteIntegrityStore.open(withIndex);
  let committed = 0;
  for await (const _ of integrity.committed(tiny, null, null)) committed++;
  await integrity.close();
  if (committed !== 2) throw new Error(`verify read ${committed} events of the 2-event tenant`);

  const rate = (ms: number) => Math.round((EVENTS / ms) * 1000);
  console.log(`bulk appends of ${BULK}, ${EVENTS} events per side, ${TENANTS} tenants taking turns`);
  console.log(`  with logs_tenant_seq:    ${rate(elapsed.with)} events/s (${(elapsed.with / 1000).toFixed(2)} s)`);
  console.log(`  without logs_tenant_seq: ${rate(elapsed.without)} events/s (${(elapsed.without / 1000).toFixed(2)} s)`);
  console.log(`  insert time with / without: ${(elapsed.with / elapsed.without).toFixed(3)}`);
  console.log(`2-event tenant's read among ${EVENTS} others' events, mean of ${READS}`);
  console.log(`  by the index: ${reads.with.toFixed(3)} ms; walking the seq range (NOT INDEXED): ${reads.without.toFixed(3)} ms`);
  console.log(`  speed-up: ${(reads.without / reads.with).toFixed(0)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
