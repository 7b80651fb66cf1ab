import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

// The Python system's README token and example body, copied unchanged into a fixture so the
// test runs wherever the repository does; when the README itself is beside the repository
// (as in CI), the fixture is checked against it.
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/python-readme-example.json', import.meta.url), 'utf8'));
const token = fixture.token as string;
const exampleBody = fixture.body as Record<string, unknown>;
const readmeUrl = new URL('../../../../shared/original/README.md', import.meta.url);

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({
    AUTH_KEY_SCHEME: 'md5-legacy',
    AUTH_SECRET: 'secret',
    AUTH_REQUIRE_EXP: 'false',
    AUTH_ADMIN_TENANT: 'abc',
  });
});
afterAll(() => server.close());

describe('the Python system’s README, unchanged, against AUTH_KEY_SCHEME=md5-legacy', () => {
  it('uses the README’s token and body unchanged', (context) => {
    expect(token).toMatch(/^eyJ/);
    expect(exampleBody.action).toBe('update');
    if (!existsSync(readmeUrl)) context.skip();
    const readme = readFileSync(readmeUrl, 'utf8');
    expect(readme).toContain(`Bearer ${token}`);
    expect(JSON.parse(/--data-raw '(\{[\s\S]*?\})'/.exec(readme)?.[1] as string)).toEqual(exampleBody);
  });

  it('POSTs the example, gets it back by id, and counts it in stats', async () => {
    const created = await call(`${server.url}/api/v1/logs`, { token, body: exampleBody });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ code: 200, msg: 'ok' });
    expect(created.body.data).toMatchObject({ ...exampleBody, tenant_id: 'abc', user_id: '01' });

    const fetched = await call(`${server.url}/api/v1/logs/${created.body.data.id}`, { token });
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual(created.body.data);

    const stats = await call(`${server.url}/api/v1/logs/stats`, { token });
    // The Python system's envelope and data, unchanged; meta (where the counts came from) is an addition.
    expect(stats.body).toMatchObject({ code: 200, msg: 'ok', data: { INFO: 0, WARNING: 1, ERROR: 0, CRITICAL: 0 } });
    expect(Object.keys(stats.body.data)).toEqual(['INFO', 'WARNING', 'ERROR', 'CRITICAL']);
  });

  it('lets that token manage tenants, since it is admin of AUTH_ADMIN_TENANT', async () => {
    expect((await call(`${server.url}/api/v1/tenants`, { token })).status).toBe(200);
  });
});
