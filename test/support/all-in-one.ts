import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeAllInOne } from '@logserver/all-in-one/compose';
import { AllInOneConfig } from '@logserver/all-in-one/config';
import type { Role } from '@logserver/shared/auth/identity';
import { type JwtSettings, mintToken } from '@logserver/shared/auth/jwt-verifier';
import { loadConfig } from '@logserver/shared/config/load-config';
import type { Health } from '@logserver/shared/http/health';
import type { MongoDatabase } from '@logserver/shared/mongo/database';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  health: Health;
  dataDir: string;
  /** The server's token settings, to mint a token without registering its tenant. */
  auth: JwtSettings;
  /** A token the server accepts; ttlSeconds undefined means no exp claim. */
  token(tenant: string, role: Role, options?: { sub?: string; ttlSeconds?: number | undefined }): Promise<string>;
  /** Seals every tenant's new events now, as the SEAL_INTERVAL timer would. */
  seal(): Promise<unknown>;
  /** Runs the analytics sink until it has every stored event (ANALYTICS on; a no-op otherwise). */
  syncAnalytics(): Promise<void>;
  /** How many Idempotency-Keys the server keeps for the tenant now. */
  idempotencyKeys(tenant: TenantId): Promise<number>;
  /** The MongoDB database the server runs on (the double in the vitest project mongodb-double), if any. */
  mongoDatabase?: MongoDatabase | undefined;
  close(): Promise<void>;
}

/**
 * Starts the real all-in-one server in this process on a free loopback port, with a fresh SQLite
 * file on disk and a random secret. Tests talk to it over real HTTP and WebSocket.
 */
export async function startAllInOne(
  env: Record<string, string> = {},
  /** A MongoDB database to run on (with STORE=mongodb), such as the mingo double; the test closes it. */
  options: { mongoDatabase?: MongoDatabase } = {},
): Promise<RunningServer> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'logserver-test-'));
  // The vitest project mongodb-double (vitest.config.ts) runs every suite that uses this helper on
  // the MongoDB store over the mingo double (docs/mongodb.md), without changing any test.
  if (inject('testStore') === 'mongodb-double' && options.mongoDatabase === undefined && env.STORE === undefined) {
    options = { mongoDatabase: new MingoMongoDatabase() };
    env = { STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:9/never-dialled', ...env };
  }
  const config = loadConfig(AllInOneConfig, {
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    AUTH_SECRET: randomBytes(24).toString('hex'),
    // Tests seal when they mean to (server.seal(), or SEAL_INTERVAL given): a 1 s timer (the default)
    // would seal in the middle of every suite, on the MongoDB double an O(n) scan each time.
    SEAL_INTERVAL: '0',
    ...env,
  });
  const { app, auth, health, sealer, sink, stores } = await composeAllInOne(config, options);
  // PORT=0 unless the test asks for one (to restart a server where its clients look for it).
  const url = await app.listen({ port: config.PORT, host: '127.0.0.1' });
  return {
    url,
    app,
    health,
    dataDir: config.DATA_DIR,
    auth,
    token: async (tenant, role, options = {}) => {
      // AUTH_REQUIRE_REGISTERED_TENANT is on by default: a tenant a test names exists, as it would after POST /api/v1/tenants.
      if (tenant !== config.AUTH_ADMIN_TENANT && (await stores.tenants.get(tenant)) === null)
        await stores.tenants.create({ key: tenant, name: tenant }).catch(() => {});
      return mintToken({
        ...auth,
        tenant,
        role,
        sub: options.sub ?? `${role}-of-${tenant}`,
        ttlSeconds: 'ttlSeconds' in options ? options.ttlSeconds : 3600,
      });
    },
    seal: async () => sealer?.sealAll(),
    syncAnalytics: async () => {
      while (sink && !(await sink.runOnce()));
    },
    idempotencyKeys: (tenant) => stores.idempotency.count(tenant, Date.now()),
    mongoDatabase: options.mongoDatabase,
    close: () => app.close(),
  };
}

/** fetch with a bearer token and JSON, returning status, headers and the parsed body. */
export async function call(
  url: string,
  options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: response.status, headers: response.headers, body, text };
}
