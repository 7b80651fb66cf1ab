import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryTimeout } from '@logserver/shared/errors/catalogue';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { SCAN_WINDOW_ROWS, SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { matchesFilter } from '@logserver/shared/store/filter';
import type { LogFilter, Position, SortOrder } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';

// Issue 13, item 3: with 100 000 events in tenant A, 40 concurrent `GET /api/v1/logs?search=zzz`
// held another tenant's POST for 6.4 s: a substring search read every event of the tenant in one
// synchronous statement, on the event loop, with nothing bounding its time or how many ran at once.

const EVENTS = 25 * SCAN_WINDOW_ROWS;
const big = tenantOf({ tenant: 'scan-big' });
const small = tenantOf({ tenant: 'scan-small' });

let dataDir: string;
let seeded: LogEvent[];
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'logserver-search-'));
  const store = SqliteLogStore.open(join(dataDir, 'logserver.db'));
  const random = seededRandom(13);
  // A needle in every 997th event (and the first and last), in a different field each time.
  seeded = Array.from({ length: EVENTS }, (_, index) => {
    const needle = index % 997 === 0 || index === EVENTS - 1;
    const where = index % 3;
    return makeEvent(
      big,
      needle
        ? where === 0
          ? { metadata: { note: `Needle-${index}` } }
          : where === 1
            ? { resource_id: `NEEDLE-${index}` }
            : { user_agent: `needle-agent/${index}` }
        : {},
      random,
    );
  });
  for (let first = 0; first < EVENTS; first += 5000) await store.append(big, seeded.slice(first, first + 5000));
  await store.append(small, [makeEvent(small, { metadata: { note: 'needle' } })]);
  await store.close();
}, 120_000);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** How many turns the event loop took while `work` ran: zero means it held the loop from start to end. */
async function turnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    running = false;
  }
  return turns;
}

const expected = (filter: LogFilter, sort: SortOrder) =>
  seeded
    .filter((event) => matchesFilter(event, filter))
    .sort((a, b) => {
      const order = a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      return sort === 'asc' ? order : -order;
    })
    .map((event) => event.id);

describe('SQLite search scans in windows: the event loop stays free, the time is bounded, the answers stay the same', () => {
  let store: SqliteLogStore;
  beforeAll(() => {
    store = SqliteLogStore.open(join(dataDir, 'logserver.db'));
  });
  afterAll(() => store.close());

  it('lets the event loop run while list, count, stats and export scan 25 000 events for a missing needle', async () => {
    const nothing: LogFilter = { search: 'zzz-not-there' };
    const cursor = await turnsDuring(() => store.query(big, nothing, { kind: 'cursor', after: null, size: 50, sort: 'desc' }));
    const offset = await turnsDuring(() => store.query(big, nothing, { kind: 'offset', page: 1, size: 50, sort: 'desc' }));
    const stats = await turnsDuring(() => store.stats(big, { user_agent: 'zzz' }, { groupBy: 'action', interval: 'day' }));
    const exported = await turnsDuring(async () => {
      for await (const _ of store.export(big, nothing, 'asc')) throw new Error('nothing should match');
    });
    // One turn at least per window (25 of them); a single synchronous statement gives none.
    for (const turns of [cursor, offset, stats, exported]) expect(turns).toBeGreaterThanOrEqual(EVENTS / SCAN_WINDOW_ROWS - 1);
  });

  it('stops a scan at its query timeout with 503 QueryTimeout, and leaves indexed queries alone', async () => {
    const hurried = SqliteLogStore.open(join(dataDir, 'logserver.db'), { queryTimeoutMs: 1 });
    try {
      const refused = hurried.query(big, { search: 'zzz' }, { kind: 'offset', page: 1, size: 10, sort: 'desc' });
      await expect(refused).rejects.toBeInstanceOf(QueryTimeout);
      await expect(refused).rejects.toMatchObject({ statusCode: 503 });
      await expect(hurried.stats(big, { search: 'zzz' }, { groupBy: 'severity' })).rejects.toBeInstanceOf(QueryTimeout);
      const indexed = await hurried.query(big, { severity: ['ERROR'] }, { kind: 'cursor', after: null, size: 10, sort: 'desc' });
      expect(indexed.items).toHaveLength(10);
    } finally {
      await hurried.close();
    }
  });

  it.each([
    ['search', { search: 'nEEdle' }],
    ['user_agent', { user_agent: 'NEEDLE-AGENT' }],
    ['search within a time range', { search: 'needle', from: '2025-02-01T00:00:00.000Z', to: '2025-03-01T00:00:00.000Z' }],
  ] as [string, LogFilter][])('finds exactly the matching events by %s, across window edges, on every read path', async (_, filter) => {
    for (const sort of ['desc', 'asc'] as const) {
      const want = expected(filter, sort);
      expect(want.length).toBeGreaterThan(3);
      // Cursor pages of 7, so pages end inside windows and windows end inside pages.
      const paged: string[] = [];
      let after: Position | null = null;
      for (;;) {
        const page = await store.query(big, filter, { kind: 'cursor', after, size: 7, sort });
        paged.push(...page.items.map((event) => event.id));
        if (page.next === null) break;
        after = page.next;
      }
      expect(paged).toEqual(want);
      const second = await store.query(big, filter, { kind: 'offset', page: 2, size: 5, sort });
      expect(second.total).toBe(want.length);
      expect(second.items.map((event) => event.id)).toEqual(want.slice(5, 10));
      const exported: string[] = [];
      for await (const event of store.export(big, filter, sort)) exported.push(event.id);
      expect(exported).toEqual(want);
    }
    const stats = await store.stats(big, filter, { groupBy: 'severity', interval: 'day' });
    const matching = seeded.filter((event) => matchesFilter(event, filter));
    const perSeverity: Record<string, number> = {};
    for (const event of matching) perSeverity[event.severity] = (perSeverity[event.severity] ?? 0) + 1;
    expect({ ...stats.totals }).toEqual(perSeverity);
    const days = [...new Set(matching.map((event) => `${event.timestamp.slice(0, 10)}T00:00:00.000Z`))].sort();
    expect(stats.buckets?.map((bucket) => bucket.start)).toEqual(days);
  });
});

describe('search over HTTP: per-tenant and per-process caps, the query timeout, other tenants keep writing', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne({ DATA_DIR: dataDir, SEARCH_MAX_PER_TENANT: '2', SEARCH_MAX_CONCURRENT: '3' });
  });
  afterAll(() => server?.close());

  it("refuses one tenant's searches beyond its cap with 429 and Retry-After, while another tenant's search runs", async () => {
    const bigViewer = await server.token(big, 'viewer');
    const smallViewer = await server.token(small, 'viewer');
    const search = (token: string) => call(`${server.url}/api/v1/logs?search=zzz&page=1&size=10`, { token });
    const [answers, other] = await Promise.all([Promise.all(Array.from({ length: 6 }, () => search(bigViewer))), search(smallViewer)]);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const answer of refused) {
      expect(answer.body).toMatchObject({ code: 429, msg: expect.stringMatching(/for this tenant \(2\)/) });
      expect(answer.headers.get('retry-after')).toBe('1');
    }
    expect(other.status, other.text).toBe(200);
    // Filters an index serves take no slot; the slots come back when the searches end.
    expect((await call(`${server.url}/api/v1/logs?severity=ERROR`, { token: bigViewer })).status).toBe(200);
    expect((await search(bigViewer)).status).toBe(200);
  });

  it("answers another tenant's POSTs while one tenant's searches scan", async () => {
    const bigViewer = await server.token(big, 'viewer');
    const writer = await server.token(small, 'writer');
    let searching = true;
    const searches = Promise.all(
      [1, 2].map(() => call(`${server.url}/api/v1/logs?search=zzz&page=1&size=10`, { token: bigViewer })),
    ).finally(() => {
      searching = false;
    });
    // Started, not finished: the searches read 25 windows each.
    await new Promise((resolve) => setTimeout(resolve, 20));
    let answeredDuring = 0;
    while (searching) {
      const posted = await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'user.login', resource_type: 'user' } });
      expect(posted.status, posted.text).toBe(200);
      if (searching) answeredDuring++;
    }
    for (const answer of await searches) expect(answer.status, answer.text).toBe(200);
    expect(answeredDuring).toBeGreaterThanOrEqual(1);
  });
});

describe('search over HTTP past SQLITE_QUERY_TIMEOUT_MS', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne({ DATA_DIR: dataDir, SQLITE_QUERY_TIMEOUT_MS: '1' });
  });
  afterAll(() => server?.close());

  it('is a 503 in the envelope that says to narrow the query; the same filter without search is answered', async () => {
    const viewer = await server.token(big, 'viewer');
    const answer = await call(`${server.url}/api/v1/logs?search=zzz`, { token: viewer });
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body).toMatchObject({ code: 503, msg: expect.stringMatching(/did not finish within 1 ms: narrow it/) });
    expect((await call(`${server.url}/api/v1/logs/stats?user_agent=zzz`, { token: viewer })).status).toBe(503);
    expect((await call(`${server.url}/api/v1/logs?size=1`, { token: viewer })).status).toBe(200);
  });
});
