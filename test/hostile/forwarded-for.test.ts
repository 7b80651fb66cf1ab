import { LogConfig } from '@logserver/log/config';
import { loadConfig } from '@logserver/shared/config/load-config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../support/all-in-one.js';

// Issue 13, Also: behind the gateway, the export and cleanup records carried the gateway's address,
// not the client's. TRUST_PROXY names the proxies whose X-Forwarded-For is believed; nobody else's is.

const GATEWAY = '10.0.0.5';
const CLIENT = '203.0.113.7';

/** The server's own records of `action` (logs.export or logs.cleanup) in the tenant, newest first. */
async function records(server: RunningServer, tenant: string, action: string): Promise<{ ip_address: string | null }[]> {
  const auditor = await server.token(tenant, 'auditor');
  const listed = await server.app.inject({
    method: 'GET',
    url: `/api/v1/logs?action=${action}`,
    headers: { authorization: `Bearer ${auditor}` },
  });
  expect(listed.statusCode, listed.body).toBe(200);
  return listed.json().data;
}

/** A cleanup and an export sent from `remoteAddress` with the given X-Forwarded-For; the addresses their records carry. */
async function recordedAddresses(server: RunningServer, tenant: string, remoteAddress: string, forwardedFor?: string) {
  const headers = (token: string): Record<string, string> => ({
    authorization: `Bearer ${token}`,
    ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
  });
  // The cleanup first: it deletes every event of the tenant, an earlier export record too.
  const cleaned = await server.app.inject({
    method: 'DELETE',
    url: '/api/v1/logs/cleanup?all=true',
    remoteAddress,
    headers: headers(await server.token(tenant, 'admin')),
  });
  expect(cleaned.statusCode, cleaned.body).toBe(200);
  const exported = await server.app.inject({
    method: 'GET',
    url: '/api/v1/logs/export',
    remoteAddress,
    headers: headers(await server.token(tenant, 'auditor')),
  });
  expect(exported.statusCode, exported.body).toBe(200);
  // The records are queued like any event: the all-in-one's worker stores them soon, not synchronously.
  await expect.poll(async () => (await records(server, tenant, 'logs.export')).length).toBe(1);
  const [exportRecord] = await records(server, tenant, 'logs.export');
  const cleanups = await records(server, tenant, 'logs.cleanup');
  expect(cleanups).toHaveLength(1);
  return { export: exportRecord?.ip_address, cleanup: cleanups[0]?.ip_address };
}

describe('TRUST_PROXY: export and cleanup records carry the client’s address from a trusted proxy only', () => {
  let behindGateway: RunningServer;
  let direct: RunningServer;
  beforeAll(async () => {
    behindGateway = await startAllInOne({ TRUST_PROXY: `${GATEWAY}, 127.0.0.1` });
    direct = await startAllInOne();
  });
  afterAll(async () => {
    await behindGateway?.close();
    await direct?.close();
  });

  it('records the address the trusted gateway forwarded', async () => {
    expect(await recordedAddresses(behindGateway, 'xff-a', GATEWAY, CLIENT)).toEqual({ export: CLIENT, cleanup: CLIENT });
  });

  it('takes the nearest untrusted address: what the client itself put in front does not count', async () => {
    expect(await recordedAddresses(behindGateway, 'xff-b', GATEWAY, `198.51.100.66, ${CLIENT}`)).toEqual({
      export: CLIENT,
      cleanup: CLIENT,
    });
  });

  it('ignores X-Forwarded-For from anyone who is not a listed proxy', async () => {
    expect(await recordedAddresses(behindGateway, 'xff-c', '198.51.100.9', CLIENT)).toEqual({
      export: '198.51.100.9',
      cleanup: '198.51.100.9',
    });
  });

  it('without TRUST_PROXY believes no X-Forwarded-For at all', async () => {
    expect(await recordedAddresses(direct, 'xff-d', GATEWAY, CLIENT)).toEqual({ export: GATEWAY, cleanup: GATEWAY });
  });

  it('refuses a TRUST_PROXY that is not a list of addresses, ranges or proxy-addr names, at start', () => {
    expect(() => loadConfig(LogConfig, { TRUST_PROXY: '10.0.0.0/8, uniquelocal, ::1' })).not.toThrow();
    for (const bad of ['gateway.local', '10.0.0.0/33', 'true', '10.0.0.1,,']) {
      expect(() => loadConfig(LogConfig, { TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
    }
  });
});
