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

export const LOOP_FIGURE = 'server event-loop delay p99 (ms)';

export function loopFigure(scenario: string, p99: number | null): Figure {
  return p99 === null
    ? { scenario, figure: LOOP_FIGURE, value: null, note: 'no event-loop metric on /metrics' }
    : { scenario, figure: LOOP_FIGURE, value: p99 };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
