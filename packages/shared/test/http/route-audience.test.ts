import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { READERS } from '../../src/auth/rbac.js';
import { requireAuth } from '../../src/auth/request-auth.js';
import { MissingAudience } from '../../src/http/route-audience.js';
import { createServer } from '../../src/http/server.js';

/** Builds an app as every compose.ts does (createServer, then the services) and starts it. */
async function start(build: (app: FastifyInstance) => Promise<void> | void): Promise<FastifyInstance> {
  const app = createServer({ logLevel: 'silent' });
  try {
    await build(app);
    await app.ready();
    return app;
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
}

describe('every /api/ route declares its audience', () => {
  it('refuses to start an app whose service registers an /api/ route without one', async () => {
    const started = start(async (app) => {
      await app.register(async (service) => {
        service.get('/api/v1/forgotten', async () => ({ secret: true }));
      });
    });
    await expect(started).rejects.toThrow(MissingAudience);
    await expect(started).rejects.toThrow('GET /api/v1/forgotten declares no audience');
  });

  it('refuses one registered on the root instance, and one under a prefix', async () => {
    await expect(start((app) => void app.post('/api/v1/root', async () => ({})))).rejects.toThrow('POST /api/v1/root declares no audience');
    const prefixed = start(async (app) => {
      await app.register(
        async (service) => {
          service.get('/logs', async () => ({}));
        },
        { prefix: '/api/v2' },
      );
    });
    await expect(prefixed).rejects.toThrow('GET /api/v2/logs declares no audience');
  });

  it('starts with the audience declared, records it and enforces it; non-API routes stay public', async () => {
    const app = await start(async (root) => {
      await root.register(async (service) => {
        requireAuth(service, async () => ({ sub: 'w', tenant: 'acme', role: 'writer' }), 'system');
        service.get('/api/v1/declared', { config: { audience: READERS } }, async () => ({ ok: true }));
        service.get('/open', async () => ({ ok: true }));
      });
    });
    expect(app.routeRules).toEqual([{ method: 'GET', path: '/api/v1/declared', who: READERS }]);
    expect((await app.inject('/api/v1/declared')).statusCode).toBe(403);
    expect((await app.inject('/open')).statusCode).toBe(200);
    await app.close();
  });
});
