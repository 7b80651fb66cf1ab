// /docs as a newcomer uses it: the real server started as make start starts it, Swagger UI in
// headless Chromium, "Authorize" with the token the banner printed, then "Try it out" and "Execute"
// on every route with the examples the page pre-fills. Each must answer 2xx.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../test/support/chromium.js';

const serviceDir = new URL('..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'logserver-docs-'));
let child: ChildProcess;
let browser: Browser;
let base: string;
let banner = '';

beforeAll(async () => {
  const port = await getPort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'src/main.ts'], {
    cwd: serviceDir,
    // Sealing every second, so that the proof of the event posted first is there when asked for.
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      AUTH_SECRET: '',
      SEAL_INTERVAL: '1',
      // stdout is a pipe here, not a terminal: BANNER_TOKENS=true asks for the tokens all the same.
      BANNER_TOKENS: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk) => {
    banner += chunk;
  });
  const deadline = Date.now() + 30_000;
  while (!banner.includes('More tokens') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  child?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

const COSIGNATURES = '/api/v1/integrity/checkpoints/{size}/cosignatures';
const bannerToken = (heading: string) => new RegExp(`${heading}[^\\n]*\\n\\s+(\\S+)`).exec(banner)?.[1] as string;

async function openDocs(token: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${base}/docs`);
  await page.locator('.auth-wrapper button.authorize').click();
  await page.locator('.modal-ux input').fill(token);
  await page.locator('.modal-ux button.authorize').click();
  await page.locator('.modal-ux button.btn-done').click();
  return page;
}

/** Expands an operation, presses "Try it out", fills the path parameters, presses "Execute"; returns the status shown. */
async function tryItOut(
  page: Page,
  method: string,
  path: string,
  options: { pathParams?: Record<string, string>; readBody?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const block = page.locator(`.opblock.opblock-${method}:has(.opblock-summary-path[data-path="${path}"])`).first();
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  for (const [name, value] of Object.entries(options.pathParams ?? {}))
    await block.locator(`tr[data-param-name="${name}"] input`).fill(value);
  await block.locator('button.execute').click();
  const status = block.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ timeout: 60_000 });
  const body = options.readBody
    ? ((await block.locator('.live-responses-table .response .response-col_description pre').first().textContent({ timeout: 60_000 })) ??
      '')
    : '';
  const shown = Number((await status.textContent())?.trim().slice(0, 3));
  // Folded again, so the page does not keep every answer rendered.
  await block.locator('.opblock-summary').first().click();
  return { status: shown, body };
}

describe('/docs "Try it out" with the banner’s tokens, in headless Chromium', () => {
  it('lists only the public API: no forward-auth, root or worker-stats routes', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is read field by field
    const document: any = await (await fetch(`${base}/docs/json`)).json();
    const paths = Object.keys(document.paths);
    expect(paths.filter((path) => path.startsWith('/auth') || path === '/' || path === '/stats')).toEqual([]);
    for (const [path, item] of Object.entries(
      document.paths as Record<string, Record<string, { summary?: string; description?: string }>>,
    )) {
      for (const [method, operation] of Object.entries(item)) {
        expect(operation.summary, `${method} ${path}`).toBeTruthy();
        expect(operation.description, `${method} ${path}`).toBeTruthy();
      }
    }
  });

  it('every route answers 2xx with its pre-filled example', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is read field by field
    const document: any = await (await fetch(`${base}/docs/json`)).json();
    const operations = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => ({ method, path })),
    );
    // The stream is a WebSocket: a plain request cannot open it (its description says how). Its SSE
    // form never ends, so Swagger UI, which shows an answer once the body is complete, cannot show it.
    const httpOperations = operations.filter(({ path }) => path !== '/api/v1/logs/stream' && path !== '/api/v1/logs/events');
    expect(httpOperations.length).toBeGreaterThanOrEqual(13);

    const results: string[] = [];
    const admin = await openDocs(bannerToken('Admin token for tenant "demo"'));
    const created = await tryItOut(admin, 'post', '/api/v1/logs', { readBody: true });
    results.push(`post /api/v1/logs ${created.status}`);
    const id = /"id":\s*"([0-9a-f-]{36})"/.exec(created.body)?.[1] as string;
    expect(id, `${created.status} ${created.body.slice(0, 800)}`).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    for (const { method, path } of httpOperations) {
      if (path.startsWith('/api/v1/tenants') || path.startsWith('/api/v1/streams') || (method === 'post' && path === '/api/v1/logs'))
        continue;
      const pathParams = { ...(path.includes('{id}') ? { id } : {}), ...(path.includes('{size}') ? { size: '1' } : {}) };
      const { status } = await tryItOut(admin, method, path, { pathParams });
      results.push(`${method} ${path} ${status}`);
    }
    // Log streams: the destination the pre-filled POST adds is the one the {id} routes act on, deleted last.
    const stream = await tryItOut(admin, 'post', '/api/v1/streams', { readBody: true });
    results.push(`post /api/v1/streams ${stream.status}`);
    const streamId = /"id":\s*"([0-9a-f-]{36})"/.exec(stream.body)?.[1] as string;
    expect(streamId, `${stream.status} ${stream.body.slice(0, 800)}`).toBeTruthy();
    const streamOrder = ['get', 'patch', 'post', 'delete'];
    const streamOperations = httpOperations
      .filter(({ method, path }) => path.startsWith('/api/v1/streams') && !(method === 'post' && path === '/api/v1/streams'))
      .sort((a, b) => streamOrder.indexOf(a.method) - streamOrder.indexOf(b.method));
    for (const { method, path } of streamOperations) {
      const { status } = await tryItOut(admin, method, path, { pathParams: path.includes('{id}') ? { id: streamId } : {} });
      results.push(`${method} ${path} ${status}`);
    }
    await admin.close();

    const platform = await openDocs(bannerToken('Platform admin token'));
    for (const { method, path } of httpOperations.filter(({ path }) => path.startsWith('/api/v1/tenants'))) {
      const { status } = await tryItOut(platform, method, path);
      results.push(`${method} ${path} ${status}`);
    }
    await platform.close();

    expect(results).toHaveLength(httpOperations.length);
    // A witness's cosignature is made with the witness's private key, never in a browser: the
    // pre-filled example must be refused in the envelope (422, this server has no witness keys).
    const refusedByDesign = `post ${COSIGNATURES} 422`;
    expect(results).toContain(refusedByDesign);
    expect(results.filter((line) => line !== refusedByDesign && !/ 2\d\d$/.test(line))).toEqual([]);
  }, 400_000);
});
