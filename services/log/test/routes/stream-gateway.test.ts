import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_HEADERS } from '@logserver/shared/auth/identity';
import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import { openStores } from '@logserver/shared/stores';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../../test/support/all-in-one.js';
import { openStream, refusedUpgrade, streamUrl } from '../../../../test/support/stream-client.js';
import { buildLogApp } from '../../src/app.js';

/** The log service alone, as it runs behind ingress-nginx: it trusts the x-auth-* headers the gateway set. */
async function startGatewayLogService(): Promise<{ app: FastifyInstance; url: string }> {
  const stores = await openStores({ store: 'sqlite', dataDir: mkdtempSync(join(tmpdir(), 'logserver-gw-')), mongodbDb: 'logdb' });
  const feed = stores.feed();
  await feed.start();
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(stores.logs, feed).handle);
  const app = createServer({ logLevel: 'silent' });
  await app.register(
    buildLogApp({ store: stores.logs, queue, feed, streamLog: stores.streamLog, identity: gatewayIdentity() }, { adminTenant: 'system' }),
  );
  app.addHook('onClose', async () => {
    await queue.close();
    await feed.close();
    await stores.streamLog.close();
    await stores.logs.close();
    await stores.tenants.close();
  });
  return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

describe('token expiry behind the gateway', () => {
  let allInOne: RunningServer;
  let gateway: { app: FastifyInstance; url: string };
  beforeAll(async () => {
    allInOne = await startAllInOne();
    gateway = await startGatewayLogService();
  });
  afterAll(async () => {
    await gateway.app.close();
    await allInOne.close();
  });

  it('the forward-auth answer carries the token’s exp in x-auth-exp', async () => {
    const token = await allInOne.token('gw', 'viewer', { ttlSeconds: 600 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp as number;
    const answer = await call(`${allInOne.url}/auth/verify`, {
      headers: { 'x-original-method': 'GET', 'x-original-url': `https://logs.example/api/v1/logs/stream?token=${token}` },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get(AUTH_HEADERS.tenant)).toBe('gw');
    expect(answer.headers.get(AUTH_HEADERS.exp)).toBe(String(exp));
  });

  it('the log service closes a stream with 4001 when x-auth-exp passes, and refuses a malformed one', async () => {
    const identity = { [AUTH_HEADERS.sub]: 'alice', [AUTH_HEADERS.tenant]: 'gw', [AUTH_HEADERS.role]: 'viewer' };
    const expiring = await openStream(streamUrl(gateway.url), {
      headers: { ...identity, [AUTH_HEADERS.exp]: String(Math.floor(Date.now() / 1000) + 1) },
    });
    const lasting = await openStream(streamUrl(gateway.url), { headers: identity });
    const closed = await expiring.closed;
    expect(closed.code).toBe(4001);
    expect(closed.reason).toMatch(/^token expired; after=[A-Za-z0-9_-]{70}$/);
    expect(lasting.ws.readyState).toBe(lasting.ws.OPEN);
    await lasting.close();

    const malformed = await refusedUpgrade(streamUrl(gateway.url), { headers: { ...identity, [AUTH_HEADERS.exp]: 'soon' } });
    expect(malformed).toEqual({
      status: 401,
      body: {
        code: 401,
        msg: 'Unauthorized: no verified identity from the gateway: send requests through it with a bearer token',
        data: null,
      },
    });
  });
});
