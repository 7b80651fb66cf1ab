import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { openSqlite } from '../../src/sqlite/database.js';
import { pagedFrom, SqliteLogStore, whereClause } from '../../src/sqlite/log-store.js';
import { compareEvents, matchesFilter } from '../../src/store/filter.js';
import type { LogFilter, SortOrder } from '../../src/store/port.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'logserver-export-text-')), 'logserver.db');
const tenant = tenantOf({ tenant: 'text' });

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** exportText's pages joined in order. */
async function collectPages<T>(pages: AsyncIterable<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}

/** Every character JSON.stringify escapes, and the ones it leaves alone that a hand-written escaper gets wrong. */
const NASTY = `"\\/\u0000\u0001\u0007\b\t\n\u000b\f\r\u001f\u007f\u0080\u00e9\u2028\u2029\ufeff\uffff😀𝄞 ${'"'.repeat(3)}`;

/** Values whose JSON text a stringify of a parse might change if the stored text were not stringify's own. */
function nastyEvents(random: () => number): LogEvent[] {
  const object = {
    [NASTY]: NASTY,
    b: 1,
    '2': 'integer-like keys come first',
    '10': [1e21, 1e-7, -0, 0.1, 2 ** 53 + 2, -1.5e300, 5e-324],
    __proto__key: { __proto__: null, nested: [[], {}, [null, true, false, '']] },
    empty: {},
  };
  const withProto = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x", "toString": 1}') as Record<string, unknown>;
  return [
    makeEvent(tenant, { action: NASTY, resource_type: 'a\u0000b', user_agent: NASTY, before: object, after: withProto }, random),
    makeEvent(tenant, { resource_id: null, ip_address: null, user_agent: null, before: null, after: null, metadata: null }, random),
    makeEvent(tenant, { metadata: { text: 'x'.repeat(5000), list: Array.from({ length: 50 }, (_, i) => ({ i })) } }, random),
    makeEvent(tenant, { resource_id: '', user_id: ' ', metadata: { 'dotted.key': { 'with space': '\u00a0' } } }, random),
  ];
}

describe('SqliteLogStore.exportText: each event as its JSON text, built by SQLite from what is stored', () => {
  it('is JSON.stringify of the event export yields, byte for byte, in the same order', async () => {
    const random = seededRandom(7);
    const store = SqliteLogStore.open(freshFile());
    await store.append(tenant, [...nastyEvents(random), ...Array.from({ length: 40 }, () => makeEvent(tenant, {}, random))]);
    for (const sort of ['asc', 'desc'] as const) {
      const events = await collect(store.export(tenant, {}, sort));
      const texts = await collectPages(store.exportText(tenant, {}, sort));
      expect(events).toHaveLength(44);
      expect(texts.map((text) => text.id)).toEqual(events.map((event) => event.id));
      expect(texts.map((text) => text.json)).toEqual(events.map((event) => JSON.stringify(event)));
    }
    await store.close();
  });

  it('computes the hash of a row stored without one, as export does', async () => {
    const path = freshFile();
    const store = SqliteLogStore.open(path);
    const random = seededRandom(8);
    await store.append(tenant, [...nastyEvents(random), makeEvent(tenant, {}, random)]);
    // Rows written before events carried a hash.
    const raw = new Database(path);
    raw.prepare('UPDATE logs SET hash = NULL').run();
    raw.close();
    const events = await collect(store.export(tenant, {}, 'asc'));
    const texts = await collectPages(store.exportText(tenant, {}, 'asc'));
    expect(events.every((event) => typeof event.hash === 'string' && event.hash.length > 0)).toBe(true);
    expect(texts.map((text) => text.json)).toEqual(events.map((event) => JSON.stringify(event)));
    await store.close();
  });
});

describe('SqliteLogStore.queryText: the list page as its events\u2019 JSON text', () => {
  /** Every page of a filter, both ways of paging, as query's events stringified and as queryText's texts. */
  async function bothWays(store: SqliteLogStore, filter: LogFilter, sort: SortOrder) {
    const pages = [];
    for (let page = 1; page <= 4; page++) pages.push({ kind: 'offset', page, size: 7, sort } as const);
    let after = null;
    for (;;) {
      const request = { kind: 'cursor', after, size: 9, sort } as const;
      const events = await store.query(tenant, filter, request);
      const texts = await store.queryText(tenant, filter, request);
      expect(texts.next).toEqual(events.next);
      expect(texts.items.map((text) => text.json)).toEqual(events.items.map((event) => JSON.stringify(event)));
      if (events.next === null) break;
      after = events.next;
    }
    for (const request of pages) {
      const events = await store.query(tenant, filter, request);
      const texts = await store.queryText(tenant, filter, request);
      expect({ total: texts.total, next: texts.next }).toEqual({ total: events.total, next: events.next });
      expect(texts.items.map((text) => text.id)).toEqual(events.items.map((event) => event.id));
      expect(texts.items.map((text) => text.json)).toEqual(events.items.map((event) => JSON.stringify(event)));
    }
  }

  it('is JSON.stringify of query\u2019s events, byte for byte, with the same total and next position, for indexed and scanning filters', async () => {
    const random = seededRandom(12);
    const store = SqliteLogStore.open(freshFile());
    await store.append(tenant, [...nastyEvents(random), ...Array.from({ length: 30 }, () => makeEvent(tenant, {}, random))]);
    for (const filter of [{}, { severity: ['ERROR', 'INFO'] }, { search: 'a' }, { from: '2025-01-20T00:00:00.000Z' }] as LogFilter[])
      for (const sort of ['asc', 'desc'] as const) await bothWays(store, filter, sort);
    await store.close();
  });

  it('computes the hash of a row stored without one, as query does', async () => {
    const path = freshFile();
    const store = SqliteLogStore.open(path);
    await store.append(tenant, [...nastyEvents(seededRandom(13)), makeEvent(tenant, {}, seededRandom(14))]);
    const raw = new Database(path);
    raw.prepare('UPDATE logs SET hash = NULL').run();
    raw.close();
    await bothWays(store, {}, 'desc');
    const texts = await store.queryText(tenant, {}, { kind: 'offset', page: 1, size: 50, sort: 'asc' });
    expect(texts.items).toHaveLength(5);
    expect(texts.items.every((text) => typeof JSON.parse(text.json).hash === 'string')).toBe(true);
    await store.close();
  });
});

describe('SqliteLogStore pages continue from their position, not from the filter bound', () => {
  it('exports and pages every event of a from/to window in both orders across many export pages', async () => {
    const random = seededRandom(9);
    const store = SqliteLogStore.open(freshFile());
    const events = Array.from({ length: 2600 }, () => makeEvent(tenant, {}, random));
    await store.append(tenant, events);
    const filter: LogFilter = { from: '2025-01-20T00:00:00.000Z', to: '2025-03-10T00:00:00.000Z' };
    for (const sort of ['asc', 'desc'] as const) {
      const want = events
        .filter((event) => matchesFilter(event, filter))
        .sort((a, b) => (sort === 'asc' ? compareEvents(a, b) : compareEvents(b, a)));
      expect(want.length).toBeGreaterThan(1000);
      expect((await collectPages(store.exportText(tenant, filter, sort))).map((text) => text.id)).toEqual(want.map((event) => event.id));
      const paged: string[] = [];
      let after = null;
      for (;;) {
        const page = await store.query(tenant, filter, { kind: 'cursor', after, size: 400, sort });
        paged.push(...page.items.map((event) => event.id));
        if (page.next === null) break;
        after = page.next;
      }
      expect(paged).toEqual(want.map((event) => event.id));
    }
    await store.close();
  });

  it('has SQLite walk the index from the position when to= (desc) or from= (asc) bounds the same side', () => {
    const path = freshFile();
    SqliteLogStore.open(path);
    const db = openSqlite(path);
    const plan = (sort: SortOrder, filter: LogFilter) => {
      const where = whereClause(tenant, filter, pagedFrom(sort, { timestamp: '2025-02-01T00:00:00.000Z', id: 'x' }));
      const sql = `EXPLAIN QUERY PLAN SELECT id FROM logs WHERE ${where.sql} AND (ts, id) ${sort === 'desc' ? '<' : '>'} (?, ?) ORDER BY ts ${sort}, id ${sort} LIMIT 10`;
      return (db.prepare(sql).all(...where.params, '2025-02-01T00:00:00.000Z', 'x') as { detail: string }[])
        .map((row) => row.detail)
        .join('; ');
    };
    // Without pagedFrom SQLite chose `ts<?` (the filter) as where the walk starts: each page read every page before it.
    expect(plan('desc', { to: '2025-03-01T00:00:00.000Z' })).toContain('(ts,id)<(?,?)');
    expect(plan('asc', { from: '2025-01-01T00:00:00.000Z' })).toContain('(ts,id)>(?,?)');
    expect(plan('desc', { from: '2025-01-01T00:00:00.000Z', to: '2025-03-01T00:00:00.000Z' })).toContain('(ts,id)<(?,?)');
    expect(whereClause(tenant, { to: '2025-03-01T00:00:00.000Z' }).sql).toBe('tenant_id = ? AND ts < ?');
    db.close();
  });
});
