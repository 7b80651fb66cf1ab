// docs/auth.md's role table, read as a user reads it, for its last column: the platform admin
// token (role admin in AUTH_ADMIN_TENANT) is also the admin of that tenant, and of no other.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

const table = readFileSync(new URL('../../../docs/auth.md', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => /^\| `(GET|POST|DELETE) /.test(line))
  .map((line) => line.split('|').map((cell) => cell.trim()))
  .map((cells) => ({ route: (cells[1] as string).replaceAll('`', ''), platform: cells[6] as string }));

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ SEAL_INTERVAL: '0' });
});
afterAll(() => server.close());

describe('docs/auth.md: what the platform admin token may do', () => {
  it('the table has a platform admin cell for every route', () => {
    expect(table.length).toBeGreaterThanOrEqual(14);
    for (const row of table) expect(['✓', 'own tenant', ''], row.route).toContain(row.platform);
  });

  it('may do what each row says, in its own tenant', async () => {
    const platform = await server.token('system', 'admin');
    for (const { route, platform: cell } of table) {
      const [method, path] = route.split(' ') as [string, string];
      if (path.endsWith('/stream')) continue;
      const body =
        method !== 'POST'
          ? undefined
          : path.endsWith('/bulk')
            ? [{ action: 'a', resource_type: 'r' }]
            : path === '/api/v1/tenants'
              ? { key: `t${Date.now()}`, name: 'T' }
              : { action: 'a', resource_type: 'r' };
      // The SSE route would stream for ever: a made-up cursor is refused after authorization, before the stream starts.
      const query = path.endsWith('/cleanup')
        ? '?older_than_days=3650&dry_run=true'
        : path.endsWith('/events')
          ? '?after=not-a-cursor'
          : '';
      const response = await call(`${server.url}${path.replace(':id', '00000000-0000-7000-8000-000000000000')}${query}`, {
        method,
        token: platform,
        body,
      });
      if (cell === '') expect(response.status, route).toBe(403);
      else expect([401, 403], `${route}: ${response.status} ${response.text}`).not.toContain(response.status);
    }
  });

  it('is no admin of any other tenant', async () => {
    const platform = await server.token('system', 'admin');
    await call(`${server.url}/api/v1/logs`, {
      method: 'POST',
      token: await server.token('acme', 'writer'),
      body: { action: 'a', resource_type: 'r' },
    });
    const seen = await call(`${server.url}/api/v1/logs?size=100`, { token: platform });
    expect(seen.body.data.every((event: { tenant_id: string }) => event.tenant_id === 'system')).toBe(true);
  });
});
