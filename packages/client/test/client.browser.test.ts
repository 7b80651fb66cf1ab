// "Works in Node and the browser": @logserver/client bundled for the browser by esbuild (platform
// browser: a Node-only import fails the build) and run in Debian's Chromium against the real
// all-in-one server, with the browser's own fetch, WebSocket, crypto and streams.
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { launchChromium } from '../../../test/support/chromium.js';

let server: RunningServer;
let browser: Browser;
let bundle: string;

beforeAll(async () => {
  const built = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../src/client.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'logserver',
    platform: 'browser',
    target: ['es2022'],
    conditions: ['development'],
    logLevel: 'silent',
  });
  bundle = built.outputFiles[0]?.text ?? '';
  server = await startAllInOne({ SEAL_INTERVAL: '0' });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('@logserver/client in headless Chromium against the all-in-one server', () => {
  it('creates, bulks, lists by cursor, gets, counts, exports, streams live and checks a proof with browser APIs only', async () => {
    expect(bundle.length).toBeGreaterThan(1000);
    const writer = await server.token('browser-a', 'writer');
    const admin = await server.token('browser-a', 'admin');
    const page = await browser.newPage();
    // A page of the server itself (/healthz: no CSP, unlike the console's), so the client's requests
    // are same-origin (no CORS setting) and Chromium's local-network checks let its WebSocket through.
    await page.goto(`${server.url}/healthz`);
    await page.addScriptTag({ content: bundle });

    const phase1 = await page.evaluate(
      async ({ baseUrl, writer, admin }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, typed in Node by the test's checks
        const { LogserverClient } = (globalThis as any).logserver;
        const writes = new LogserverClient({ baseUrl, token: writer, retry: { minDelayMs: 10 } });
        const reads = new LogserverClient({ baseUrl, token: admin, retry: { minDelayMs: 10 } });
        const frames: { id: string; action: string; cursor: string | undefined }[] = [];
        const states: string[] = [];
        const stream = reads.stream({
          onState: (state: string, detail?: string) => states.push(`${state} ${detail ?? ''}`),
          onEvent: (event: { id: string; action: string }, cursor: string | undefined) =>
            frames.push({ id: event.id, action: event.action, cursor }),
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        const created = await writes.create({ action: 'browser.create', resource_type: 'page', resource_id: 'p1' });
        const bulk = await writes.bulk(
          Array.from({ length: 30 }, (_, index) => ({ action: 'browser.bulk', resource_type: 'page', resource_id: `b${index}` })),
        );
        const listed: string[] = [];
        for await (const event of reads.list({ action: 'browser.bulk' }, { size: 7 })) listed.push(event.id);
        const got = await reads.get(created.id);
        const count = await reads.count({});
        const exported: string[] = [];
        for await (const event of reads.export({ action: 'browser.bulk' })) exported.push(event.id);
        const deadline = Date.now() + 10_000;
        while (frames.length < 31 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        stream.close();
        return {
          inBrowser: typeof (globalThis as { document?: unknown }).document === 'object',
          created,
          bulkIds: bulk.map((event: { id: string }) => event.id),
          listed,
          got,
          count,
          exported,
          frames,
          states,
        };
      },
      { baseUrl: server.url, writer, admin },
    );
    expect(phase1.inBrowser).toBe(true);
    expect(phase1.created).toMatchObject({ tenant_id: 'browser-a', action: 'browser.create' });
    expect(phase1.got).toEqual(phase1.created);
    expect(phase1.bulkIds).toHaveLength(30);
    expect([...phase1.listed].sort()).toEqual([...phase1.bulkIds].sort());
    expect(new Set(phase1.listed).size).toBe(30);
    expect([...phase1.exported].sort()).toEqual([...phase1.bulkIds].sort());
    expect(phase1.count).toBe(31);
    // The live stream, over the browser's WebSocket: every event once, in commit order, each with its cursor.
    // (After them, the server's own record of the export, logs.export, may arrive too.)
    expect(
      phase1.frames.slice(0, 31).map((frame) => frame.id),
      phase1.states.join(', '),
    ).toEqual([phase1.created.id, ...phase1.bulkIds]);
    expect(phase1.frames.slice(31).map((frame) => frame.action)).toEqual(phase1.frames.length > 31 ? ['logs.export'] : []);
    expect(new Set(phase1.frames.map((frame) => frame.id)).size).toBe(phase1.frames.length);
    expect(phase1.frames.every((frame) => typeof frame.cursor === 'string' && frame.cursor.length > 0)).toBe(true);

    // The proof is checked in the page, by the client's own code (noble curves and hashes, no server code).
    await server.seal();
    const checked = await page.evaluate(
      async ({ baseUrl, admin, id }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's global
        const { LogserverClient } = (globalThis as any).logserver;
        const reads = new LogserverClient({ baseUrl, token: admin });
        const check = await reads.checkEvent(id);
        return { valid: check.valid, problem: check.problem, checks: check.checks };
      },
      { baseUrl: server.url, admin, id: phase1.created.id },
    );
    expect(checked).toMatchObject({ valid: true, problem: null });
    expect(checked.checks).toMatchObject({ eventHash: true, merklePath: true, signature: true });
    await page.close();
  }, 120_000);
});
