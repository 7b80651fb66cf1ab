import type { Role } from '@logserver/shared/auth/identity';
import { type JwtSettings, mintToken } from '@logserver/shared/auth/jwt-verifier';
import type { Service } from './processes.js';
import type { Figure } from './report.js';
import type { Sizes } from './scale.js';

/** What every scenario gets: the running processes, the sizes, and tokens the server accepts. */
export interface BenchContext {
  sizes: Sizes;
  server: Service;
  echo: Service;
  workDir: string;
  /** The repository root. */
  root: string;
  /** AUTH_SECRET of every server the benchmark starts. */
  authSecret: string;
  /** The tenant loaded with `sizes.bigTenantEvents` events before the server started. */
  bigTenant: string;
  token(tenant: string, role: Role): Promise<string>;
}

export type Scenario = (context: BenchContext) => Promise<Figure[]>;

/** The token settings of every server the benchmark starts (HMAC with the run's `authSecret`). */
export const BENCH_AUTH = { scheme: 'hmac-sha256', audience: 'logserver', issuer: 'issuer', requireExp: true } as const;

/**
 * The per-tenant request limit of every server the benchmark starts (RATE_LIMIT_PER_TENANT). Each
 * scenario puts its load on one tenant, and on a fast machine scenario 1 and the sustained-load
 * scenario go past the default 10 000 requests a second (session 9: 429s in slices of 10 000-11 000
 * req/s). So the limit is set far above any rate here rather than turned off (0): the limiter still
 * counts every request, and its cost stays in the figures, as in a deployment.
 */
export const BENCH_RATE_LIMIT = { RATE_LIMIT_PER_TENANT: '1000000000' } as const;

/**
 * The environment of an all-in-one server the benchmark starts: its data folder, loopback, the
 * run's token settings, the benchmark's rate limit and LOG_LEVEL (default info); `extra` for what
 * the scenario sets apart.
 */
export function allInOneEnv(dataDir: string, authSecret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    AUTH_SECRET: authSecret,
    AUTH_KEY_SCHEME: BENCH_AUTH.scheme,
    AUTH_AUDIENCE: BENCH_AUTH.audience,
    AUTH_ISSUER: BENCH_AUTH.issuer,
    AUTH_REQUIRE_EXP: String(BENCH_AUTH.requireExp),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...BENCH_RATE_LIMIT,
    ...extra,
  };
}

export const LOOP_FIGURE = 'server event-loop delay p99 (ms)';

export function loopFigure(scenario: string, p99: number | null): Figure {
  return p99 === null
    ? { scenario, figure: LOOP_FIGURE, value: null, note: 'no event-loop metric on /metrics' }
    : { scenario, figure: LOOP_FIGURE, value: p99 };
}

/**
 * Creates `tenant` on an all-in-one server as the platform admin, as an operator would:
 * AUTH_REQUIRE_REGISTERED_TENANT is on by default (#13). A tenant that already exists (409) is fine.
 */
export async function createTenant(serverUrl: string, auth: JwtSettings, tenant: string): Promise<void> {
  const admin = await mintToken({ ...auth, tenant: 'system', role: 'admin', sub: 'bench', ttlSeconds: 3600 });
  const created = await fetch(`${serverUrl}/api/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key: tenant, name: tenant }),
  });
  if (created.status !== 200 && created.status !== 409)
    throw new Error(`creating tenant ${tenant}: ${created.status} ${await created.text()}`);
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
