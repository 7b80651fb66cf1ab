import { AllInOneConfig } from '@logserver/all-in-one/config';
import { loadConfig } from '@logserver/shared/config/load-config';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

const ALLOWED = 'https://app.example.com';
const servers: RunningServer[] = [];
afterAll(() => Promise.all(servers.map((server) => server.close())));

const preflight = (url: string, origin: string) =>
  fetch(`${url}/api/v1/logs`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });

describe('CORS_ORIGINS (@fastify/cors)', () => {
  it('lets a named origin call the API from a browser, and no other', async () => {
    const server = await startAllInOne({ CORS_ORIGINS: `${ALLOWED}, http://localhost:5173/` });
    servers.push(server);
    const allowed = await preflight(server.url, ALLOWED);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(allowed.headers.get('access-control-allow-methods')).toMatch(/POST/);

    const token = await server.token('acme', 'viewer');
    const read = await fetch(`${server.url}/api/v1/logs`, {
      headers: { origin: 'http://localhost:5173', authorization: `Bearer ${token}` },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(read.headers.get('access-control-expose-headers')).toMatch(/content-disposition/);

    const other = await preflight(server.url, 'https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const otherRead = await fetch(`${server.url}/api/v1/logs`, {
      headers: { origin: 'https://evil.example.net', authorization: `Bearer ${token}` },
    });
    expect(otherRead.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows no origin by default', async () => {
    const server = await startAllInOne();
    servers.push(server);
    const response = await preflight(server.url, ALLOWED);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.status).not.toBe(204);
  });

  it('refuses * and origins with a path, at start, with what to write', () => {
    for (const value of ['*', 'https://app.example.com/path', 'app.example.com']) {
      expect(() => loadConfig(AllInOneConfig, { CORS_ORIGINS: value }), value).toThrow(
        /CORS_ORIGINS: must be a comma-separated list of origins/,
      );
    }
  });
});
