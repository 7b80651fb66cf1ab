import { join } from 'node:path';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

/** Reads an export until `bytes` have arrived and then drops the connection, as a broken download ends. */
async function brokenDownload(url: string, token: string, bytes: number): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < bytes) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  controller.abort();
  return text;
}

describe('GET /api/v1/logs/export in commit order, resumed with after=', () => {
  let server: RunningServer;
  let stored: string[];
  const tenant = 'export-resume';
  beforeAll(async () => {
    server = await startAllInOne();
    const writer = await server.token(tenant, 'writer');
    for (let round = 0; round < 5; round++) {
      // Timestamps run backwards, so commit order and timestamp order differ.
      const body = Array.from({ length: 500 }, (_, n) => ({
        action: `e.${round}.${n}`,
        resource_type: 'doc',
        timestamp: new Date(Date.UTC(2025, 5, 1) - (round * 500 + n) * 60_000).toISOString(),
        severity: n % 2 ? 'INFO' : 'ERROR',
      }));
      expect((await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body })).status).toBe(200);
    }
    const db = openSqlite(join(server.dataDir, 'logserver.db'));
    stored = (db.prepare('SELECT id FROM logs WHERE tenant_id = ? ORDER BY seq').all(tenant) as { id: string }[]).map((row) => row.id);
    db.close();
  });
  afterAll(() => server.close());

  it('NDJSON: every line has its cursor; a broken download continues after the last complete line, nothing missing or repeated', async () => {
    const auditor = await server.token(tenant, 'auditor');
    const base = `${server.url}/api/v1/logs/export?format=ndjson&sort=commit`;
    const partial = await brokenDownload(base, auditor, 200_000);
    const complete = partial
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line));
    expect(complete.length).toBeGreaterThan(100);
    expect(complete.length).toBeLessThan(stored.length);
    expect(complete.every((line) => /^[A-Za-z0-9_-]{70}$/.test(line.cursor))).toBe(true);
    const rest = await call(`${base.replace('&sort=commit', '')}&after=${complete.at(-1).cursor}`, { token: auditor });
    expect(rest.status).toBe(200);
    const restLines = rest.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    // The first, aborted export's own audit record was stored after the 2500 events: it is part of the rest.
    const ids = [...complete, ...restLines].map((line) => line.id);
    expect(ids.slice(0, stored.length)).toEqual(stored);
    expect(restLines.slice(stored.length - complete.length).map((line) => line.action)).toEqual(['logs.export']);
  });

  it('CSV: the cursor is the last column; resuming with a filter continues that filter', async () => {
    const auditor = await server.token(tenant, 'auditor');
    // Each answer's status is checked with its body: one CI run got an error envelope (JSON) where
    // CSV was expected, and parsing it as CSV hid which error it was.
    const csv = async (query: string) => {
      const answer = await call(`${server.url}/api/v1/logs/export?${query}`, { token: auditor });
      expect(answer.status, answer.text.slice(0, 500)).toBe(200);
      return parse(answer.text, { columns: true }) as Record<string, string>[];
    };
    const rows = await csv('format=csv&sort=commit&severity=ERROR&action=e.0.0');
    expect(Object.keys(rows[0] as object).at(-1)).toBe('cursor');
    expect(rows.map((row) => row.action)).toEqual(['e.0.0']);
    const all = await csv('format=csv&sort=commit&severity=ERROR');
    const middle = all[600] as Record<string, string>;
    const rest = await csv(`format=csv&severity=ERROR&after=${middle.cursor}`);
    expect(rest.map((row) => row.id)).toEqual(all.slice(601).map((row) => row.id));
  });

  // The commit log reads on its own SQLite connection, which lacked the fold() that search calls: a 500.
  it('applies search (Unicode case folding) in commit order', async () => {
    const auditor = await server.token(tenant, 'auditor');
    const found = await call(`${server.url}/api/v1/logs/export?sort=commit&search=E.3.49`, { token: auditor });
    expect(found.status, found.text).toBe(200);
    const actions = found.text
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text).action);
    expect(actions).toEqual(['e.3.49', ...Array.from({ length: 10 }, (_, n) => `e.3.49${n}`)]);
  });

  it('refuses another tenant’s, a forged or a truncated cursor with 422, and sort=asc with after=', async () => {
    const auditor = await server.token(tenant, 'auditor');
    const line = JSON.parse((await call(`${server.url}/api/v1/logs/export?sort=commit&action=e.1.1`, { token: auditor })).text.trim());
    const other = await server.token('someone-else', 'auditor');
    for (const [token, after] of [
      [other, line.cursor],
      [auditor, `${line.cursor.slice(0, -1)}${line.cursor.endsWith('A') ? 'B' : 'A'}`],
      [auditor, line.cursor.slice(0, 50)],
    ]) {
      const refused = await call(`${server.url}/api/v1/logs/export?after=${after}`, { token });
      expect(refused.status).toBe(422);
      expect(refused.body.data[0]).toMatchObject({ loc: ['query', 'after'], type: 'value_error.cursor' });
    }
    expect((await call(`${server.url}/api/v1/logs/export?sort=asc&after=${line.cursor}`, { token: auditor })).status).toBe(422);
  });
});
