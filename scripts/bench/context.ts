import type { Role } from '@logserver/shared/auth/identity';
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
 * The environment of an all-in-one server the benchmark starts: its data folder, loopback, the
 * run's token settings and LOG_LEVEL (default info); `extra` for what the scenario sets apart.
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
    ...extra,
  };
}

export const LOOP_FIGURE = 'server event-loop delay p99 (ms)';

export function loopFigure(scenario: string, p99: number | null): Figure {
  return p99 === null
    ? { scenario, figure: LOOP_FIGURE, value: null, note: 'no event-loop metric on /metrics' }
    : { scenario, figure: LOOP_FIGURE, value: p99 };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
