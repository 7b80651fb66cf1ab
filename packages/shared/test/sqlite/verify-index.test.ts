import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMITTED_SQL, SEALABLE_SQL, SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

// Issue 13, Also: verify (and the sealer) read a tenant's events by walking the seq range of the
// whole logs table: a 2-event tenant's verify slowed by 17 ms per 100 000 events of other tenants.
// They now read the tenant's own (tenant_id, seq) index.

const crowd = tenantOf({ tenant: 'verify-crowd' });
const tiny = tenantOf({ tenant: 'verify-tiny' });
const CROWD = 20_000;

let dir: string;
let path: string;
let logs: SqliteLogStore;
let integrity: SqliteIntegrityStore;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'logserver-verify-index-'));
  path = join(dir, 'logserver.db');
  logs = SqliteLogStore.open(path);
  integrity = SqliteIntegrityStore.open(path);
  const random = seededRandom(17);
  const first = Array.from({ length: CROWD / 2 }, () => makeEvent(crowd, {}, random));
  await logs.append(crowd, first);
  await logs.append(tiny, [makeEvent(tiny, {}, random)]);
  await logs.append(
    crowd,
    Array.from({ length: CROWD / 2 }, () => makeEvent(crowd, {}, random)),
  );
  await logs.append(tiny, [makeEvent(tiny, {}, random)]);
}, 60_000);
afterAll(async () => {
  await integrity.close();
  await logs.close();
  rmSync(dir, { recursive: true, force: true });
});

/** SQLite's plan for a statement: one line per step, e.g. `SEARCH logs USING INDEX logs_tenant_seq (tenant_id=? AND seq>?)`. */
function planOf(sql: string, params: unknown[]): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
  } finally {
    db.close();
  }
}

describe('the sealer and verify read one tenant through its (tenant_id, seq) index', () => {
  it('searches the index for the tenant instead of scanning the table', () => {
    for (const [sql, params] of [
      [SEALABLE_SQL, [tiny, 0, 100]],
      [COMMITTED_SQL, [tiny, 0, Number.MAX_SAFE_INTEGER, 1000]],
    ] as const) {
      const plan = planOf(sql, [...params]);
      expect(plan.join('\n')).toMatch(/^SEARCH logs USING INDEX logs_tenant_seq \(tenant_id=\? AND seq>\?/m);
      expect(plan.join('\n')).not.toMatch(/SCAN logs|TEMP B-TREE/);
    }
  });

  it('still gives each tenant exactly its events, in commit order, across read batches', async () => {
    const sealable = await integrity.sealable(tiny, null, 10);
    expect(sealable).toHaveLength(2);
    const positions = sealable.map((event) => Number(event.position));
    expect(positions[1]).toBeGreaterThan((positions[0] as number) + CROWD / 2 - 1);
    const tinyCommitted: string[] = [];
    for await (const { event } of integrity.committed(tiny, null, null)) tinyCommitted.push(event.tenant_id);
    expect(tinyCommitted).toEqual([tiny, tiny]);
    let count = 0;
    let last = Number.NEGATIVE_INFINITY;
    for await (const { event, position } of integrity.committed(crowd, null, null)) {
      expect(event.tenant_id).toBe(crowd);
      expect(Number(position)).toBeGreaterThan(last);
      last = Number(position);
      count++;
    }
    expect(count).toBe(CROWD);
    // A range: after the first tiny event, through the second.
    const range: string[] = [];
    for await (const { position } of integrity.committed(tiny, sealable[0]?.position ?? null, sealable[1]?.position ?? null))
      range.push(position);
    expect(range).toEqual([sealable[1]?.position]);
  });
});
