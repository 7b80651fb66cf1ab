import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

describe('GET / explains the server', () => {
  it('answers the envelope with what this is and where the docs are, and the links work', async () => {
    const root = await call(`${server.url}/`);
    expect(root.status).toBe(200);
    expect(root.body).toMatchObject({ code: 200, msg: 'ok', data: { name: 'logserver', docs: '/docs', openapi: '/docs/json' } });
    expect(root.body.data.about).toMatch(/audit-log/);
    for (const path of [root.body.data.docs, root.body.data.openapi, root.body.data.health]) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(200);
    }
  });

  it('gives a browser a page that links /docs', async () => {
    const page = await fetch(`${server.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<a href="/docs">');
  });
});
