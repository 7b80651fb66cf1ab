import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildConsole } from '@logserver/console/build';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { SignJWT } from 'jose';
import type { Browser, BrowserContext, Page, Response, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { CHROMIUM, launchChromium } from '../../../test/support/chromium.js';

/**
 * The console end to end: Debian's Chromium (playwright-core) against the real all-in-one server,
 * one browser for the whole file, one page per signed-in role. Every expected answer comes from
 * the public API asked by the test with the same query, never from the console's own code.
 * Screenshots of each view go to packages/console/test-output/ (ignored by git).
 */

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`SKIPPED the console's browser tests: ${CHROMIUM} is missing (apt-get install chromium).`);
}
const SHOTS = join(import.meta.dirname, '..', 'test-output');
const PACKAGE = join(import.meta.dirname, '..');

/**
 * make test builds the console before vitest (make console), and other suites' servers may be
 * serving dist/ meanwhile, so this file rebuilds only when a source is newer than the build: run
 * alone after an edit, it tests what was edited.
 */
function buildIsStale(): boolean {
  const built = join(PACKAGE, 'dist', 'console.js');
  if (!existsSync(built)) return true;
  const sources = readdirSync(join(PACKAGE, 'src'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  const newest = Math.max(
    ...sources.map((entry) => statSync(join(entry.parentPath, entry.name)).mtimeMs),
    statSync(join(PACKAGE, 'build.mjs')).mtimeMs,
  );
  return newest > statSync(built).mtimeMs;
}
const HOUR = 3_600_000;

let server: RunningServer;
let browser: Browser;
let context: BrowserContext;
let admin: string;
let viewer: string;
let auditor: string;
let acme: { id: string; action: string; timestamp: string }[];
const pageErrors: string[] = [];

const ACTIONS = ['login', 'update', 'delete', 'invoice.paid'];
const TYPES = ['user', 'invoice', 'project'];
const SEVERITIES = ['INFO', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];
const AGENTS = ['Mozilla/5.0 (X11; Linux) Firefox/140.0', 'curl/8.5.0'];

/** 60 events of acme spread over the last 50 hours, by three users, varied in every filtered field. */
function acmeEvent(i: number, now: number) {
  const event: Record<string, unknown> = {
    action: ACTIONS[i % ACTIONS.length],
    resource_type: TYPES[i % TYPES.length],
    resource_id: `r-${i % 5}`,
    severity: SEVERITIES[i % SEVERITIES.length],
    ip_address: `10.0.0.${i % 7}`,
    user_agent: AGENTS[i % 2],
    timestamp: new Date(now - (i * 50 * HOUR) / 60 - 60_000).toISOString(),
    metadata: { request: `req-${i}`, ...(i % 6 === 0 ? { note: 'contains the needle word' } : {}) },
  };
  if (i % 4 === 1) {
    event.before = { plan: 'free', seats: 1, owner: 'alice' };
    event.after = { plan: 'pro', seats: 5, owner: 'alice' };
  }
  return event;
}

async function post(token: string, bodies: unknown[]): Promise<{ id: string; action: string; timestamp: string }[]> {
  const answer = await call(`${server.url}/api/v1/logs/bulk`, { token, body: bodies });
  expect(answer.status).toBe(200);
  return answer.body.data;
}

async function apiIds(query: URLSearchParams | string, token = admin): Promise<string[]> {
  const answer = await call(`${server.url}/api/v1/logs?${query}`, { token });
  expect(answer.status).toBe(200);
  return answer.body.data.map((event: { id: string }) => event.id);
}

const shownIds = (page: Page) =>
  page.locator('ls-events tbody tr').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.id));

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function openPage(token: string, path = '/console'): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${server.url}${path}#token=${token}`);
  return page;
}

/** The next list request the page makes whose query passes `match`. */
const nextList = (page: Page, match: (query: URLSearchParams) => boolean = () => true) =>
  page.waitForResponse((r: Response) => {
    const url = new URL(r.url());
    return (
      url.pathname === '/api/v1/logs' && r.request().method() === 'GET' && url.searchParams.get('size') === '25' && match(url.searchParams)
    );
  });

/** Applies a filter in the UI and checks the table shows exactly what the list API answers the test for that query. */
async function expectTableMatchesApi(page: Page, answer: Response): Promise<{ query: URLSearchParams; ids: string[] }> {
  const query = new URL(answer.url()).searchParams;
  const expected = await apiIds(query);
  await expect.poll(() => shownIds(page)).toEqual(expected);
  return { query, ids: expected };
}

describe.skipIf(!haveChromium)('console in Chromium against the all-in-one server', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    if (buildIsStale()) await buildConsole();
    server = await startAllInOne({ SEAL_INTERVAL: '0' });
    admin = await server.token('acme', 'admin', { sub: 'ada' });
    viewer = await server.token('acme', 'viewer', { sub: 'vic' });
    auditor = await server.token('acme', 'auditor', { sub: 'aud' });
    const now = Date.now();
    const writers = await Promise.all(['alice', 'bob', 'carol'].map((sub) => server.token('acme', 'writer', { sub })));
    acme = [];
    for (let w = 0; w < 3; w++) {
      const bodies = Array.from({ length: 20 }, (_, k) => acmeEvent(k * 3 + w, now));
      acme.push(...(await post(writers[w] as string, bodies)));
    }
    const globexWriter = await server.token('globex', 'writer', { sub: 'mallory' });
    await post(globexWriter, [
      { action: 'globex.secret', resource_type: 'vault', resource_id: 'g-1', severity: 'CRITICAL', metadata: { note: 'needle' } },
      { action: 'login', resource_type: 'user', resource_id: 'r-1', severity: 'INFO' },
    ]);
    browser = await launchChromium();
    context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-GB', viewport: { width: 1366, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('is public static files at /console with a strict content policy, and holds no data', async () => {
    for (const path of ['/console', '/console/', '/console/console.js', '/console/logserver-viewer.js', '/console/embed-example.html']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('set-cookie')).toBeNull();
      expect(await response.text()).not.toContain('acme');
    }
    expect((await fetch(`${server.url}/console/../package.json`)).status).toBe(404);
    expect((await call(`${server.url}/console/nothing-here.js`)).body).toMatchObject({ code: 404 });
  });

  describe('an admin of acme', () => {
    let page: Page;

    it('signs in with a fragment link, which leaves the address bar and stays in sessionStorage', async () => {
      page = await context.newPage();
      const first = nextList(page);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${server.url}/console#token=${admin}`);
      await first;
      expect(page.url()).not.toContain('token');
      expect(page.url()).not.toContain(admin);
      expect(await page.evaluate(() => sessionStorage.getItem('logserver-console.token'))).toBe(admin);
      await expect
        .poll(() => page.locator('[role=tab]').allTextContents())
        .toEqual(['Events', 'Live', 'Charts', 'Export', 'Integrity', 'Cleanup']);
      await expect.poll(() => page.locator('logserver-viewer .who').textContent()).toContain('acme · ada · admin');
    });

    it("shows the tenant's events, newest first, and never another tenant's", async () => {
      const expected = await apiIds('size=25');
      await expect.poll(() => shownIds(page)).toEqual(expected);
      expect(expected).toHaveLength(25);
      const acmeIds = new Set(acme.map((event) => event.id));
      expect(expected.every((id) => acmeIds.has(id))).toBe(true);
      await expect.poll(() => page.locator('ls-events #count').textContent()).toContain(`of ${acme.length}`);
      expect(await page.locator('ls-events').textContent()).not.toContain('globex');
      await shot(page, 'events');
    });

    const FILTERS: {
      name: string;
      apply: (page: Page) => Promise<void>;
      sent: Record<string, string | RegExp>;
      holds: (e: Record<string, unknown>) => boolean;
    }[] = [
      { name: 'action', apply: (p) => fill(p, 'Action', 'login'), sent: { action: 'login' }, holds: (e) => e.action === 'login' },
      {
        name: 'resource type',
        apply: (p) => fill(p, 'Resource type', 'invoice'),
        sent: { resource_type: 'invoice' },
        holds: (e) => e.resource_type === 'invoice',
      },
      {
        name: 'resource id',
        apply: (p) => fill(p, 'Resource id', 'r-3'),
        sent: { resource_id: 'r-3' },
        holds: (e) => e.resource_id === 'r-3',
      },
      { name: 'user', apply: (p) => fill(p, 'User', 'bob'), sent: { user_id: 'bob' }, holds: (e) => e.user_id === 'bob' },
      {
        name: 'IP address',
        apply: (p) => fill(p, 'IP address', '10.0.0.4'),
        sent: { ip_address: '10.0.0.4' },
        holds: (e) => e.ip_address === '10.0.0.4',
      },
      {
        name: 'user agent',
        apply: (p) => fill(p, 'User agent contains', 'curl'),
        sent: { user_agent: 'curl' },
        holds: (e) => String(e.user_agent).includes('curl'),
      },
      {
        name: 'literal search',
        apply: (p) => fill(p, 'Search (literal text)', 'NEEDLE'),
        sent: { search: 'NEEDLE' },
        holds: (e) => JSON.stringify(e.metadata).includes('needle'),
      },
      {
        name: 'severity chips',
        apply: async (p) => {
          await p.locator('ls-filter-bar').getByRole('button', { name: 'ERROR', exact: true }).click();
          await p.locator('ls-filter-bar').getByRole('button', { name: 'CRITICAL', exact: true }).click();
        },
        sent: { severity: 'ERROR,CRITICAL' },
        holds: (e) => e.severity === 'ERROR' || e.severity === 'CRITICAL',
      },
      {
        name: 'time preset (last 24 h)',
        apply: async (p) => {
          await p.locator('ls-filter-bar').getByLabel('Time').selectOption('24h');
        },
        sent: { from: /^\d{4}-\d\d-\d\dT/ },
        holds: (e) => Date.parse(String(e.timestamp)) >= Date.now() - 24 * HOUR - 120_000,
      },
      {
        name: 'custom time range',
        apply: async (p) => {
          await p.locator('ls-filter-bar').getByLabel('Time').selectOption('custom');
          const bar = p.locator('ls-filter-bar');
          await bar.getByLabel('From (local time)').fill(localInput(Date.now() - 30 * HOUR));
          await bar.getByLabel('To (local time, exclusive)').fill(localInput(Date.now() - 10 * HOUR));
          await bar.getByRole('button', { name: 'Apply' }).click();
        },
        sent: { from: /T/, to: /T/ },
        holds: (e) => {
          const t = Date.parse(String(e.timestamp));
          return t >= Date.now() - 31 * HOUR && t < Date.now() - 9 * HOUR;
        },
      },
      {
        name: 'one UTC day',
        apply: async (p) => {
          await p.locator('ls-filter-bar').getByLabel('Time').selectOption('day');
          await p
            .locator('ls-filter-bar')
            .getByLabel('Day (UTC)')
            .fill(new Date(Date.now() - 24 * HOUR).toISOString().slice(0, 10));
          await p.locator('ls-filter-bar').getByRole('button', { name: 'Apply' }).click();
        },
        sent: { timestamp: new Date(Date.now() - 24 * HOUR).toISOString().slice(0, 10) },
        holds: (e) => String(e.timestamp).startsWith(new Date(Date.now() - 24 * HOUR).toISOString().slice(0, 10)),
      },
    ];

    for (const filter of FILTERS) {
      it(`narrows the rows by ${filter.name} exactly as the list API does`, async () => {
        const cleared = nextList(page, (q) => q.size === 2);
        await page.locator('ls-filter-bar').getByRole('button', { name: 'Clear filters' }).click();
        await cleared;
        const answer = nextList(page, (q) =>
          Object.entries(filter.sent).every(([key, want]) =>
            typeof want === 'string' ? q.get(key) === want : want.test(q.get(key) ?? ''),
          ),
        );
        await filter.apply(page);
        const { query, ids } = await expectTableMatchesApi(page, await answer);
        expect(ids.length).toBeGreaterThan(0);
        const wide = new URLSearchParams(query);
        wide.set('size', '100');
        const all = await call(`${server.url}/api/v1/logs?${wide}`, { token: admin });
        expect(all.body.meta.total).toBeLessThan(acme.length);
        expect(all.body.data.every(filter.holds)).toBe(true);
        // The view is in the address (never the token): the same link shows the same rows.
        for (const [key, want] of Object.entries(filter.sent)) {
          if (typeof want === 'string') expect(new URL(page.url()).searchParams.get(key === 'from' ? 'range' : key)).toBeTruthy();
        }
        expect(page.url()).not.toContain(admin);
      });
    }

    it('reproduces a view from its link, pages by cursor and sorts by time', async () => {
      const link = `${server.url}/console?action=update&severity=INFO`;
      const first = nextList(page, (q) => q.get('action') === 'update' && q.get('severity') === 'INFO');
      await page.goto(link);
      await expectTableMatchesApi(page, await first);

      const all = nextList(page, (q) => !q.has('action'));
      await page.locator('ls-filter-bar').getByRole('button', { name: 'Clear filters' }).click();
      await all;
      const second = nextList(page, (q) => q.has('cursor'));
      await page.getByRole('button', { name: 'Next page' }).click();
      const page2 = await second;
      const cursor = new URL(page2.url()).searchParams.get('cursor') as string;
      const expected = await apiIds(`size=25&sort=desc&cursor=${encodeURIComponent(cursor)}`);
      await expect.poll(() => shownIds(page)).toEqual(expected);
      const firstPage = await apiIds('size=25');
      expect(new Set([...firstPage, ...expected]).size).toBe(50);
      const back = nextList(page, (q) => !q.has('cursor'));
      await page.getByRole('button', { name: 'Previous page' }).click();
      await back;
      await expect.poll(() => shownIds(page)).toEqual(firstPage);

      const asc = nextList(page, (q) => q.get('sort') === 'asc');
      await page.getByRole('button', { name: /Time/ }).click();
      await expectTableMatchesApi(page, await asc);
      expect(new URL(page.url()).searchParams.get('sort')).toBe('asc');
      const desc = nextList(page, (q) => q.get('sort') === 'desc');
      await page.getByRole('button', { name: /Time/ }).click();
      await desc;
    });

    it('lets columns be chosen', async () => {
      const headers = () => page.locator('ls-events thead th').allTextContents();
      await expect.poll(headers).toContain('Action');
      await page.locator('ls-events summary', { hasText: 'Columns' }).click();
      await page.locator('ls-events details.columns').getByLabel('Action', { exact: true }).uncheck();
      await page.locator('ls-events details.columns').getByLabel('IP address', { exact: true }).check();
      await expect.poll(headers).not.toContain('Action');
      await expect.poll(headers).toContain('IP address');
      await page.locator('ls-events details.columns').getByLabel('Action', { exact: true }).check();
      await page.locator('ls-events summary', { hasText: 'Columns' }).click();
    });

    it('shows hostile text as text, in the table and in the diff', async () => {
      const writer = await server.token('acme', 'writer', { sub: '<b>mallory</b>' });
      const payload = '<img src=x onerror=window.__xss=1>';
      await post(writer, [
        { action: 'xss.try', resource_type: payload, resource_id: payload, before: { note: payload }, after: { note: `${payload}!` } },
      ]);
      const shown = nextList(page, (q) => q.get('action') === 'xss.try');
      await fill(page, 'Action', 'xss.try');
      await shown;
      await page.locator('ls-events tbody tr').first().click();
      await expect.poll(() => page.locator('ls-event-detail .diff').textContent()).toContain(payload);
      expect(await page.locator('ls-events tbody').textContent()).toContain(payload);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(await page.locator('ls-events img, ls-event-detail img').count()).toBe(0);
      await page.locator('ls-filter-bar').getByRole('button', { name: 'Clear filters' }).click();
    });

    it("opens an event's detail with its before/after diff, and copies it as JSON", async () => {
      const withDiff = (await call(`${server.url}/api/v1/logs?size=100&search=seats`, { token: admin })).body.data[0];
      const shown = nextList(page, (q) => q.get('search') === 'seats');
      await fill(page, 'Search (literal text)', 'seats');
      await shown;
      await page.locator(`ls-events tbody tr[data-id="${withDiff.id}"]`).click();
      const detail = page.locator('ls-event-detail');
      await expect.poll(() => detail.locator('h2').textContent()).toContain(withDiff.id);
      const diff = detail.locator('.diff');
      await expect.poll(() => diff.locator('.jsondiffpatch-modified').count()).toBe(2);
      expect(await diff.textContent()).toMatch(/plan.*free.*pro/s);
      expect(await diff.locator('.jsondiffpatch-unchanged').count()).toBe(1);
      await detail.getByRole('button', { name: 'Copy as JSON' }).click();
      await expect.poll(() => detail.getByRole('status').first().textContent()).toContain('Copied');
      const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
      expect(copied).toEqual(withDiff);
      await shot(page, 'event-detail');
      // Keyboard: a row opens with Enter.
      await detail.getByRole('button', { name: 'Close the event detail' }).click();
      await page.locator('ls-events tbody tr').first().focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('ls-event-detail').count()).toBe(1);
    });

    it('shows an event posted over HTTP in the live view within a second, with the filters, and pauses', async () => {
      await page.goto(`${server.url}/console?view=live&action=deploy`);
      await expect.poll(() => page.locator('ls-live .state').textContent(), { timeout: 10_000 }).toBe('live');
      const writer = await server.token('acme', 'writer', { sub: 'ci' });
      const ignored = (await post(writer, [{ action: 'other', resource_type: 'service', resource_id: 'api' }]))[0];
      const started = Date.now();
      const [event] = await post(writer, [{ action: 'deploy', resource_type: 'service', resource_id: 'api', severity: 'WARNING' }]);
      await page.locator(`ls-live tbody tr[data-id="${event?.id}"]`).waitFor({ timeout: 1000 });
      const seenAfter = Date.now() - started;
      expect(seenAfter).toBeLessThan(1000);
      expect(await page.locator(`ls-live tbody tr[data-id="${ignored?.id}"]`).count()).toBe(0);
      await shot(page, 'live');

      await page.locator('ls-live').getByRole('button', { name: 'Pause' }).click();
      const [held] = await post(writer, [{ action: 'deploy', resource_type: 'service', resource_id: 'worker' }]);
      await expect.poll(() => page.locator('ls-live #held').textContent()).toBe('1');
      expect(await page.locator(`ls-live tbody tr[data-id="${held?.id}"]`).count()).toBe(0);
      await page.locator('ls-live').getByRole('button', { name: 'Resume' }).click();
      await page.locator(`ls-live tbody tr[data-id="${held?.id}"]`).waitFor({ timeout: 1000 });
    });

    it('tells when the stream lost events to a cleanup or the connection was lost, and resumes after the last event', async () => {
      // Playwright stands between the page and the real stream: frames pass through untouched, and
      // the test adds what a resume after a cleaned-up cursor gets ({"type":"cursor_expired"}) and cuts
      // the connection the way a replica going away does (1001), which a server in a test cannot be made to do on cue.
      const live = await context.newPage();
      live.on('pageerror', (error) => pageErrors.push(error.message));
      const sockets: WebSocketRoute[] = [];
      await live.routeWebSocket(/\/api\/v1\/logs\/stream/, (ws) => {
        ws.connectToServer();
        sockets.push(ws);
      });
      await live.goto(`${server.url}/console?view=live#token=${admin}`);
      await expect.poll(() => live.locator('ls-live .state').textContent(), { timeout: 10_000 }).toBe('live');
      sockets[0]?.send(JSON.stringify({ type: 'cursor_expired', message: 'the event this cursor names is no longer retained' }));
      await expect.poll(() => live.locator('ls-live ul.notices').textContent()).toContain('deleted by a cleanup');
      const writer = await server.token('acme', 'writer', { sub: 'ci' });
      const [seen] = await post(writer, [{ action: 'before.cut', resource_type: 'service', resource_id: 'api' }]);
      await live.locator(`ls-live tbody tr[data-id="${seen?.id}"]`).waitFor({ timeout: 2000 });
      await sockets[0]?.close({ code: 1001, reason: 'server shutting down' });
      // Stored while the page is disconnected (it waits at least 500 ms before reconnecting).
      const [missed] = await post(writer, [{ action: 'while.away', resource_type: 'service', resource_id: 'api' }]);
      await expect.poll(() => live.locator('ls-live ul.notices').textContent()).toContain('Connection lost (server shutting down)');
      await expect.poll(() => live.locator('ls-live ul.notices').textContent(), { timeout: 10_000 }).toContain('Reconnected');
      expect(sockets.length).toBe(2);
      // It resumed after the last event it had shown: the one stored while away is replayed, once.
      expect(new URL(sockets[1]?.url() ?? '').searchParams.get('after')).toMatch(/^[A-Za-z0-9_-]{70}$/);
      await live.locator(`ls-live tbody tr[data-id="${missed?.id}"]`).waitFor({ timeout: 2000 });
      expect(await live.locator(`ls-live tbody tr[data-id="${seen?.id}"]`).count()).toBe(1);
      // The new connection is a real stream again.
      const [event] = await post(writer, [{ action: 'after.reconnect', resource_type: 'service', resource_id: 'api' }]);
      await live.locator(`ls-live tbody tr[data-id="${event?.id}"]`).waitFor({ timeout: 2000 });
      await live.close();
    });

    it('charts the same counts as the stats API, per severity over time and the top values', async () => {
      await page.goto(`${server.url}/console?view=charts&range=7d`);
      const series = await page.waitForResponse((r) => r.url().includes('/api/v1/logs/stats') && r.url().includes('interval=hour'));
      const query = new URL(series.url()).search;
      const stats = (await call(`${server.url}/api/v1/logs/stats${query}`, { token: viewer })).body.data;
      const buckets = page.locator('ls-charts #series tbody tr');
      await expect.poll(() => buckets.count()).toBe(stats.buckets.length);
      expect(stats.buckets.length).toBeGreaterThanOrEqual(7 * 24);
      const shown = await buckets.evaluateAll((rows) =>
        rows.map((row) => ({
          start: (row as HTMLElement).dataset.start,
          counts: Object.fromEntries(
            [...row.querySelectorAll('td[data-severity]')].map((td) => [(td as HTMLElement).dataset.severity, Number(td.textContent)]),
          ),
        })),
      );
      expect(shown).toEqual(stats.buckets);
      // Zero-filled: most hours of the week hold no event, and every severity is in every bucket.
      expect(shown.filter((b) => Object.values(b.counts).every((n) => n === 0)).length).toBeGreaterThan(100);
      for (const severity of ['INFO', 'WARNING', 'ERROR', 'CRITICAL']) {
        expect(Number(await page.locator(`ls-charts [data-total=${severity}]`).textContent())).toBe(stats.totals[severity]);
      }
      for (const field of ['action', 'resource_type', 'user_id']) {
        const counts = (
          await call(`${server.url}/api/v1/logs/stats${query.replace('interval=hour', `group_by=${field}`)}`, { token: viewer })
        ).body.data;
        const top = Object.entries(counts as Record<string, number>)
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .slice(0, 10);
        const rows = await page
          .locator(`ls-charts table[data-top=${field}] td.num`)
          .evaluateAll((cells) => cells.map((td) => [(td as HTMLElement).dataset.value, Number(td.textContent)]));
        expect(rows).toEqual(top);
        expect(rows.length).toBeGreaterThan(0);
      }
      // The store answered (a 7-day range starting mid-hour is counted from its index): it says so, and
      // offers only the bucket sizes the store takes.
      expect(await page.locator('ls-charts #stats-source').getAttribute('data-source')).toBe('index');
      expect(await page.locator('ls-charts #stats-source').textContent()).toContain('exact, up to this moment');
      expect(
        await page.locator('ls-charts select option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)),
      ).toEqual(['', 'hour', 'day']);
      expect(await page.locator('ls-charts table[data-top=ip_address]').count()).toBe(0);
      await page.locator('ls-charts canvas').waitFor();
      await shot(page, 'charts');
    });

    it('exports the current filter as NDJSON, CSV and JSON files that parse with the right count', async () => {
      await page.goto(`${server.url}/console?view=export&severity=WARNING,ERROR`);
      const expected = (await call(`${server.url}/api/v1/logs?severity=WARNING,ERROR&size=1`, { token: admin })).body.meta.total;
      await expect.poll(() => page.locator('ls-export #expected').textContent()).toBe(String(expected));
      for (const format of ['ndjson', 'csv', 'json'] as const) {
        await page.locator('ls-export').getByLabel('Format').selectOption(format);
        const download = page.waitForEvent('download');
        await page.locator('ls-export').getByRole('button', { name: 'Export', exact: true }).click();
        const file = await download;
        expect(file.suggestedFilename()).toMatch(new RegExp(`^logs-acme-.*\\.${format}$`));
        const text = readFileSync(await file.path(), 'utf8');
        const rows: { severity: string }[] =
          format === 'ndjson'
            ? text
                .trim()
                .split('\n')
                .map((line) => JSON.parse(line))
            : format === 'csv'
              ? parse(text, { columns: true })
              : JSON.parse(text);
        expect(rows).toHaveLength(expected);
        expect(rows.every((row) => row.severity === 'WARNING' || row.severity === 'ERROR')).toBe(true);
        await expect.poll(() => page.locator('ls-export [data-status]').textContent()).toContain(`${expected} events`);
      }
      await shot(page, 'export');
    });

    it('verifies a proof in the browser, then shows an event changed in the SQLite file as changed', async () => {
      await server.seal();
      const target = acme[7] as { id: string };
      await page.goto(`${server.url}/console?view=integrity`);
      const integrity = page.locator('ls-integrity');
      await integrity.getByLabel('Event id').fill(target.id);
      await integrity.getByRole('button', { name: 'Check proof' }).click();
      await expect.poll(() => integrity.locator('[data-verdict]').getAttribute('data-verdict')).toBe('intact');
      expect(await integrity.locator('li[data-ok=true]').count()).toBe(5);
      await integrity.getByRole('button', { name: 'Verify range' }).click();
      await expect.poll(() => integrity.locator('[data-status]').getAttribute('data-status')).toBe('intact');
      await shot(page, 'integrity');

      const raw = new Database(join(server.dataDir, 'logserver.db'));
      expect(raw.prepare("UPDATE logs SET action = 'nothing.happened' WHERE id = ?").run(target.id).changes).toBe(1);
      raw.close();

      await integrity.getByRole('button', { name: 'Check proof' }).click();
      await expect.poll(() => integrity.locator('[data-verdict]').getAttribute('data-verdict')).toBe('changed');
      const steps = await integrity.locator('ol.steps li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.ok));
      expect(steps).toEqual(['false', 'false', 'true', 'true', 'true']);
      await integrity.getByRole('button', { name: 'Verify range' }).click();
      await expect.poll(() => integrity.locator('[data-status]').getAttribute('data-status')).toBe('tampered');
      expect(await integrity.locator(`tr[data-kind=changed]`).textContent()).toContain(target.id);
      await shot(page, 'integrity-tampered');

      // The same check from the event's detail in the table.
      await page.goto(`${server.url}/console?action=nothing.happened`);
      await page.locator(`ls-events tbody tr[data-id="${target.id}"]`).click();
      await page.locator('ls-event-detail').getByRole('button', { name: 'Verify proof' }).click();
      await expect.poll(() => page.locator('ls-event-detail [data-verdict]').getAttribute('data-verdict')).toBe('changed');
    });

    it('cleans up old events after the tenant key is typed', async () => {
      await page.goto(`${server.url}/console?view=cleanup`);
      const cleanup = page.locator('ls-cleanup');
      await cleanup.getByLabel('Days', { exact: true }).fill('2');
      await cleanup.getByRole('button', { name: 'Delete events' }).click();
      await expect.poll(() => cleanup.getByRole('alert').textContent()).toContain('Type');
      await cleanup.getByLabel(/to confirm/).fill('acme');
      const before = (await call(`${server.url}/api/v1/logs?to=${new Date(Date.now() - 48 * HOUR).toISOString()}&size=1`, { token: admin }))
        .body.meta.total;
      expect(before).toBeGreaterThan(0);
      await cleanup.getByRole('button', { name: 'Delete events' }).click();
      await expect
        .poll(() => cleanup.getByRole('status').textContent())
        .toMatch(new RegExp(`Deleted (${before}|${before - 1}|${before + 1}) events`));
      expect(
        (await call(`${server.url}/api/v1/logs?to=${new Date(Date.now() - 48 * HOUR).toISOString()}&size=1`, { token: admin })).body.meta
          .total,
      ).toBe(0);
      await shot(page, 'cleanup');
    });

    it('fits a phone screen without sideways scrolling of the page', async () => {
      const phone = await context.newPage();
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${server.url}/console#token=${admin}`);
      await phone.locator('ls-events tbody tr').first().waitFor();
      // The six field filters start folded on a phone, so the events are in view.
      expect(await phone.locator('ls-filter-bar details.fields').getAttribute('open')).toBeNull();
      await phone.locator('ls-filter-bar summary', { hasText: 'Field filters' }).click();
      await expect.poll(() => phone.locator('ls-filter-bar').getByLabel('Action', { exact: true }).isVisible()).toBe(true);
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(phone, 'events-phone');
      await phone.close();
    });

    it('moves between views with the arrow keys', async () => {
      await page.goto(`${server.url}/console`);
      await page.getByRole('tab', { name: 'Events' }).focus();
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.getByRole('tab', { name: 'Live' }).getAttribute('aria-selected')).toBe('true');
      expect(new URL(page.url()).searchParams.get('view')).toBe('live');
      await page.keyboard.press('End');
      await expect.poll(() => page.getByRole('tab', { name: 'Cleanup' }).getAttribute('aria-selected')).toBe('true');
    });
  });

  it('a viewer sees no export or cleanup controls, and the API refuses them anyway', async () => {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Sign in by pasting, the other way in.
    await page.goto(`${server.url}/console`);
    await page.getByRole('textbox', { name: 'Token' }).fill(viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('[role=tab]').allTextContents()).toEqual(['Events', 'Live', 'Charts']);
    for (const view of ['export', 'cleanup', 'integrity', 'tenants']) {
      await page.goto(`${server.url}/console?view=${view}`);
      await page.locator('ls-events tbody tr').first().waitFor();
      expect(await page.locator('ls-export, ls-cleanup, ls-integrity, ls-tenants').count()).toBe(0);
      expect(await page.getByRole('button', { name: /export|delete events/i }).count()).toBe(0);
    }
    await shot(page, 'viewer');
    const exported = await call(`${server.url}/api/v1/logs/export`, { token: viewer });
    expect(exported.status).toBe(403);
    const cleaned = await call(`${server.url}/api/v1/logs/cleanup?all=true`, { method: 'DELETE', token: viewer });
    expect(cleaned.status).toBe(403);
    expect((await call(`${server.url}/api/v1/logs?size=1`, { token: auditor })).body.meta.total).toBeGreaterThan(0);
    await page.close();
  });

  it('an expired token, or one without a reading role, gets a clear screen with the reason from the API', async () => {
    const expired = await server.token('acme', 'viewer', { ttlSeconds: -60 });
    const page = await openPage(expired);
    await expect
      .poll(() => page.locator('logserver-console #reason').textContent())
      .toMatch(/refused this token: Unauthorized(: [^.]+)?\. It expired at /);
    expect(page.url()).not.toContain('token');
    expect(await page.evaluate(() => sessionStorage.getItem('logserver-console.token'))).toBeNull();
    await shot(page, 'signin-expired');
    const writer = await server.token('acme', 'writer');
    await page.goto(`${server.url}/console#token=${writer}`);
    await expect
      .poll(() => page.locator('logserver-console #reason').textContent())
      .toMatch(/role \(writer\) may not read the audit log: .*writer/i);
    await page.close();
  });

  it('a platform admin lists tenants and creates one, whose signing key is shown once and works', async () => {
    const platform = await server.token('system', 'admin', { sub: 'root' });
    const page = await openPage(platform, '/console?view=tenants');
    const tenants = page.locator('ls-tenants');
    await tenants.getByLabel(/^Key/).fill('initech');
    await tenants.getByLabel('Name').fill('Initech');
    await tenants.getByRole('button', { name: 'Create tenant' }).click();
    const secret = await expect
      .poll(() => tenants.locator('#secret').inputValue())
      .toMatch(/^[0-9a-f]{64}$/)
      .then(() => tenants.locator('#secret').inputValue());
    await expect.poll(() => tenants.locator('tr[data-key=initech]').count()).toBe(1);
    await tenants.getByRole('button', { name: 'Copy the signing key' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await shot(page, 'tenants');
    const token = await new SignJWT({ tenant: 'initech', role: 'viewer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('first-user')
      .setAudience('logserver')
      .setIssuer('issuer')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    expect((await call(`${server.url}/api/v1/logs`, { token })).status).toBe(200);
    await tenants.getByRole('button', { name: 'I have stored it' }).click();
    expect(await tenants.locator('#secret').count()).toBe(0);
    // The list never carries secrets.
    expect(await tenants.locator('table').textContent()).not.toContain(secret);
    await page.close();
  });

  it('the embeddable <logserver-viewer> shows the same views on another page, without cookies', async () => {
    const page = await openPage(viewer, '/console/embed-example.html');
    const expected = await apiIds('size=25', viewer);
    await expect.poll(() => shownIds(page)).toEqual(expected);
    expect(await context.cookies(server.url)).toEqual([]);
    expect(page.url()).not.toContain('token');
    await shot(page, 'embedded');
    await page.close();
  });

  it('charts from the analytics tier (ANALYTICS=chdb): says so and up to when, weeks and months, the server’s top values', async () => {
    const tier = await startAllInOne({ ANALYTICS: 'chdb', SEAL_INTERVAL: '0' });
    try {
      const writer = await tier.token('acme', 'writer', { sub: 'alice' });
      const now = Date.now();
      // 40 addresses: more than the 10 a panel shows, so the server's top=10 leaves some out.
      const bodies = Array.from({ length: 80 }, (_, i) => ({ ...acmeEvent(i, now), ip_address: `10.1.0.${i % 40}` }));
      bodies.push(...Array.from({ length: 6 }, () => ({ ...acmeEvent(1, now), ip_address: '192.0.2.7' })));
      expect((await call(`${tier.url}/api/v1/logs/bulk`, { token: writer, body: bodies })).status).toBe(200);
      await tier.syncAnalytics();
      const reader = await tier.token('acme', 'viewer', { sub: 'vic' });
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${tier.url}/console?view=charts&range=30d#token=${reader}`);
      const source = page.locator('ls-charts #stats-source');
      await expect.poll(() => source.getAttribute('data-source')).toBe('analytics');
      expect(await source.textContent()).toMatch(/analytics tier: every event stored before \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC is in/);
      const options = page.locator('ls-charts select option');
      await expect
        .poll(() => options.evaluateAll((all) => all.map((o) => (o as HTMLOptionElement).value)))
        .toEqual(['', 'hour', 'day', 'week', 'month']);
      // The IP panel is the server's top=10, with the rest counted.
      const query = `from=${encodeURIComponent(new Date(now - 30 * 24 * HOUR).toISOString())}&group_by=ip_address&top=10`;
      const top = (await call(`${tier.url}/api/v1/logs/stats?${query}`, { token: reader })).body;
      expect(top.meta.source).toBe('analytics');
      const ipCells = page.locator('ls-charts table[data-top=ip_address] td.num');
      await expect.poll(() => ipCells.count()).toBe(10);
      const shown = await ipCells.evaluateAll((cells) => cells.map((td) => [(td as HTMLElement).dataset.value, Number(td.textContent)]));
      expect(shown[0]).toEqual(['192.0.2.7', 6]);
      expect(Object.fromEntries(shown)).toEqual(top.data);
      expect(await page.locator('ls-charts [data-others=ip_address]').textContent()).toBe(`${top.meta.others} more in other values`);
      expect(top.meta.others).toBe(86 - shown.reduce((sum, [, n]) => sum + Number(n), 0));
      // Week buckets: the table holds the API's weekly answer for the same filters.
      const weekly = page.waitForResponse((r) => r.url().includes('/api/v1/logs/stats') && r.url().includes('interval=week'));
      await page.locator('ls-charts select').selectOption('week');
      const weekQuery = new URL((await weekly).url()).search;
      const weeks = (await call(`${tier.url}/api/v1/logs/stats${weekQuery}`, { token: reader })).body.data;
      const rows = page.locator('ls-charts #series tbody tr');
      await expect
        .poll(() => rows.evaluateAll((all) => all.map((row) => (row as HTMLElement).dataset.start)))
        .toEqual(weeks.buckets.map((b: { start: string }) => b.start));
      expect(weeks.buckets.length).toBeGreaterThanOrEqual(5);
      for (const b of weeks.buckets as { start: string }[]) expect(new Date(b.start).getUTCDay()).toBe(1);
      await shot(page, 'charts-analytics');
      await page.close();
    } finally {
      await tier.close();
    }
  }, 60_000);

  it('served the console with no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});

async function fill(page: Page, label: string, value: string): Promise<void> {
  const bar = page.locator('ls-filter-bar');
  await bar.getByLabel(label, { exact: true }).fill(value);
  await bar.getByLabel(label, { exact: true }).press('Enter');
}

/** A datetime-local value in the browser's zone (the context runs in UTC). */
function localInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}
