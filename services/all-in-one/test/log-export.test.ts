import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { seededRandom } from '@logserver/testing/events';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, postBulk } from '../../../test/support/log-seed.js';
import { collectionQueries } from '../../../test/support/postman.js';

let server: RunningServer;
let auditor: string;

beforeAll(async () => {
  server = await startAllInOne();
  const writer = await server.token('acme', 'writer');
  auditor = await server.token('acme', 'auditor', { sub: 'auditor-ann' });
  const random = seededRandom(3);
  const awkward = [
    // What CSV must quote: commas, quotes, line breaks; and text JSON must escape.
    clientEvent(random, { user_agent: 'Agent "Q", v1\r\nsecond line', action: 'update', resource_type: 'user' }),
    clientEvent(random, { metadata: { note: 'a,b "c"\nd', emoji: 'é ✓ 🚀', nested: { list: [1, 'two', null] } }, action: 'update' }),
    clientEvent(random, { resource_id: '=SUM(A1)', before: { '': 'empty key' } }),
  ];
  await postBulk(server.url, writer, [...awkward, ...Array.from({ length: 1200 }, () => clientEvent(random))]);
  await postBulk(server.url, await server.token('globex', 'writer'), [clientEvent(random)]);
});
afterAll(() => server.close());

/** Every event the list API returns for a filter, walked by cursor. */
async function listAll(params: URLSearchParams): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams(params);
    query.set('size', '100');
    if (cursor) query.set('cursor', cursor);
    const response = await call(`${server.url}/api/v1/logs?${query}`, { token: auditor });
    expect(response.status).toBe(200);
    events.push(...response.body.data);
    cursor = response.body.meta.next_cursor;
  } while (cursor !== null);
  return events;
}

const fromCsv = (text: string): LogEvent[] => {
  const rows = parse(text, { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
  return rows.map((row) => {
    const event: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) {
      if (value === '') event[key] = null;
      else event[key] = ['before', 'after', 'metadata'].includes(key) ? JSON.parse(value) : value;
    }
    return event as unknown as LogEvent;
  });
};

const PARSERS = {
  ndjson: (text: string) =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogEvent),
  json: (text: string) => JSON.parse(text) as LogEvent[],
  csv: fromCsv,
};

const filterSets = [
  '',
  'sort=asc',
  'action=update&severity=WARNING,ERROR',
  'search=a,b "c"',
  'from=2025-02-01&to=2025-02-10&sort=asc',
  'user_agent=second line',
  'action=no-such-action',
  // Exports in commit order carry cursors and are compared with the store's commit order instead (log-export-resume.test.ts).
  ...collectionQueries('api/v1/logs/export')
    .filter(([, params]) => params.get('sort') !== 'commit' && !params.has('after'))
    .map(([, params]) => {
      params.delete('format');
      return params.toString();
    }),
];

describe('GET /api/v1/logs/export: three formats, parsed back, equal to the list', () => {
  for (const filter of filterSets) {
    for (const format of ['ndjson', 'csv', 'json'] as const) {
      it(`${format} with ${filter || 'no filter'}`, async () => {
        const params = new URLSearchParams(filter);
        const want = await listAll(params);
        const query = new URLSearchParams(params);
        if (format !== 'ndjson') query.set('format', format);
        // raw=true: the exact bytes, to compare with the list (the default defuses formulas, tested below).
        if (format === 'csv') query.set('raw', 'true');
        const response = await call(`${server.url}/api/v1/logs/export?${query}`, { token: auditor });
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe(
          { ndjson: 'application/x-ndjson; charset=utf-8', csv: 'text/csv; charset=utf-8', json: 'application/json; charset=utf-8' }[
            format
          ],
        );
        expect(response.headers.get('content-disposition')).toMatch(
          new RegExp(`^attachment; filename="logs-acme-\\d{8}T\\d{6}Z\\.${format}"$`),
        );
        expect(PARSERS[format](response.text)).toEqual(want);
      });
    }
  }

  it('writes CSV as RFC 4180: header row, CRLF records, quoted fields where needed', async () => {
    const response = await call(`${server.url}/api/v1/logs/export?format=csv&user_agent=second line`, { token: auditor });
    const [header] = response.text.split('\r\n');
    expect(header).toBe(
      'id,tenant_id,user_id,action,resource_type,resource_id,timestamp,received_at,ip_address,user_agent,before,after,metadata,severity,hash',
    );
    expect(response.text).toContain('"Agent ""Q"", v1\r\nsecond line"');
    expect(response.text.endsWith('\r\n')).toBe(true);
    const empty = await call(`${server.url}/api/v1/logs/export?format=csv&action=no-such-action`, { token: auditor });
    expect(empty.text).toBe(`${header}\r\n`);
  });

  it('records each export in the tenant as logs.export with the parameters and the count', async () => {
    const response = await call(`${server.url}/api/v1/logs/export?format=json&action=update&severity=WARNING`, { token: auditor });
    const exported = JSON.parse(response.text) as LogEvent[];
    const audit = await call(`${server.url}/api/v1/logs?action=logs.export&size=1`, { token: auditor });
    expect(audit.body.data[0]).toMatchObject({
      tenant_id: 'acme',
      user_id: 'auditor-ann',
      action: 'logs.export',
      resource_type: 'logs',
      severity: 'INFO',
      metadata: {
        parameters: { format: 'json', action: 'update', severity: 'WARNING' },
        format: 'json',
        count: exported.length,
        completed: true,
      },
    });
    const other = await call(`${server.url}/api/v1/logs?action=logs.export`, { token: await server.token('globex', 'viewer') });
    expect(other.body.meta.total).toBe(0);
  });

  it('records an aborted download as not completed, with the count read so far', async () => {
    const writer = await server.token('bulky', 'writer');
    const admin = await server.token('bulky', 'admin');
    const random = seededRandom(8);
    const big = { long: 'x'.repeat(2000) };
    await postBulk(
      server.url,
      writer,
      Array.from({ length: 8000 }, () => clientEvent(random, { metadata: big })),
    );
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/v1/logs/export`, {
      headers: { authorization: `Bearer ${admin}` },
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    controller.abort();
    const record = await vi.waitFor(
      async () => {
        const found: LogEvent | undefined = (await call(`${server.url}/api/v1/logs?action=logs.export`, { token: admin })).body.data[0];
        if (!found) throw new Error('no logs.export record yet');
        return found;
      },
      { timeout: 15_000, interval: 50 },
    );
    expect(record?.metadata).toMatchObject({ format: 'ndjson', completed: false });
    expect(record?.metadata?.count as number).toBeLessThan(8000);
    // 8 000 events of 2 KB go in first: on the MongoDB double (mingo) under load that alone took 25-30 s.
  }, 120_000);

  it('refuses unknown parameters and formats with a 422', async () => {
    for (const query of ['format=xml', 'size=10', 'format=csv&format=json']) {
      const response = await call(`${server.url}/api/v1/logs/export?${query}`, { token: auditor });
      expect(response.status, query).toBe(422);
      expect(response.body.code).toBe(422);
    }
  });
});

describe('CSV for spreadsheets: formulas defused by default, raw=true, bom=true, flatten=true', () => {
  const tenant = 'sheets';
  let token: string;
  const planted = ['=1+2', '+1', '-2+3', '@SUM(A1)', '\tTAB', '\rCR', 'plain', 'a=b'];
  beforeAll(async () => {
    const random = seededRandom(9);
    token = await server.token(tenant, 'auditor');
    await postBulk(
      server.url,
      await server.token(tenant, 'writer'),
      planted.map((resource_id, index) =>
        clientEvent(random, {
          resource_id,
          action: 'plant',
          user_agent: resource_id,
          timestamp: `2025-05-01T00:00:0${index}.000Z`,
          before: { email: 'old@example.com', name: 'Zoë' },
          after: { email: '=HYPERLINK("http://evil")', address: { city: 'Köln', zip: '50667' } },
          metadata: index === 0 ? { ticket: 'T-1', tags: ['a', 'b'] } : null,
        }),
      ),
    );
  });
  const exportCsv = (query: string) => call(`${server.url}/api/v1/logs/export?format=csv&action=plant&sort=asc&${query}`, { token });
  const rows = (text: string) => parse(text, { columns: true, record_delimiter: '\r\n', bom: true }) as Record<string, string>[];

  it('prefixes a quote to every cell a spreadsheet would run as a formula (OWASP), leaves the others', async () => {
    const response = await exportCsv('');
    expect(response.status).toBe(200);
    const cells = rows(response.text);
    expect(cells.map((row) => row.resource_id)).toEqual(["'=1+2", "'+1", "'-2+3", "'@SUM(A1)", "'\tTAB", "'\rCR", 'plain', 'a=b']);
    expect(cells.map((row) => row.user_agent)).toEqual(cells.map((row) => row.resource_id));
    // Objects travel as JSON text, which starts with { and is never a formula.
    expect(JSON.parse(cells[0]?.after as string).email).toBe('=HYPERLINK("http://evil")');
    expect(response.text.charCodeAt(0)).not.toBe(0xfeff);
  });

  it('raw=true keeps the exact bytes', async () => {
    const cells = rows((await exportCsv('raw=true')).text);
    expect(cells.map((row) => row.resource_id)).toEqual(planted);
  });

  it('bom=true starts with the UTF-8 byte order mark', async () => {
    const response = await fetch(`${server.url}/api/v1/logs/export?format=csv&action=plant&bom=true`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.subarray(3, 6).toString()).toBe('id,');
    expect(bytes.toString('utf8')).toContain('Zoë');
  });

  it('flatten=true spreads before/after/metadata into dotted columns, defused like every cell', async () => {
    const response = await exportCsv('flatten=true');
    expect(response.status).toBe(200);
    const [header] = response.text.split('\r\n');
    expect(header?.split(',')).toEqual([
      'id',
      'tenant_id',
      'user_id',
      'action',
      'resource_type',
      'resource_id',
      'timestamp',
      'received_at',
      'ip_address',
      'user_agent',
      'severity',
      'hash',
      'before.email',
      'before.name',
      'after.address.city',
      'after.address.zip',
      'after.email',
      'metadata.tags',
      'metadata.ticket',
      'other_keys',
    ]);
    const cells = rows(response.text);
    expect(cells[0]).toMatchObject({
      'before.email': 'old@example.com',
      'before.name': 'Zoë',
      'after.address.city': 'Köln',
      'after.email': '\'=HYPERLINK("http://evil")',
      'metadata.tags': '["a","b"]',
      'metadata.ticket': 'T-1',
      other_keys: '',
    });
    expect(cells[1]?.['metadata.ticket']).toBe('');
    const raw = rows((await exportCsv('flatten=true&raw=true')).text);
    expect(raw[0]?.['after.email']).toBe('=HYPERLINK("http://evil")');
  });

  it('flatten=true refuses more distinct keys than it may hold as columns, with what to do', async () => {
    const random = seededRandom(10);
    const wide = 'wide';
    await postBulk(
      server.url,
      await server.token(wide, 'writer'),
      Array.from({ length: 6 }, (_, event) =>
        clientEvent(random, { metadata: Object.fromEntries(Array.from({ length: 100 }, (_, key) => [`k${event}_${key}`, key])) }),
      ),
    );
    const response = await call(`${server.url}/api/v1/logs/export?format=csv&flatten=true`, { token: await server.token(wide, 'auditor') });
    expect(response.status).toBe(422);
    expect(response.body.msg).toMatch(/more than 500 distinct keys.*export without flatten/);
    expect((await call(`${server.url}/api/v1/logs/export?format=csv`, { token: await server.token(wide, 'auditor') })).status).toBe(200);
  });

  it('raw, bom and flatten apply to CSV only: a 422 that says so elsewhere', async () => {
    for (const query of ['raw=true', 'format=json&bom=true', 'format=ndjson&flatten=true', 'format=csv&bom=yes']) {
      const response = await call(`${server.url}/api/v1/logs/export?${query}`, { token });
      expect(response.status, query).toBe(422);
    }
    expect((await call(`${server.url}/api/v1/logs/export?raw=true`, { token })).body.data[0]).toMatchObject({
      loc: ['query', 'raw'],
      msg: 'applies to format=csv only',
    });
  });
});
