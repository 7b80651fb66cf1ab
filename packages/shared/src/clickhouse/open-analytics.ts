import { join } from 'node:path';
import type { z } from 'zod';
import type { AnalyticsStore } from '../analytics/port.js';
import type { analyticsConfig } from '../config/schemas.js';
import { ClickHouseAnalyticsStore } from './clickhouse-analytics-store.js';
import { ClickHouseClientDriver } from './clickhouse-client-driver.js';
import type { ClickHouseDriver } from './driver.js';

export type AnalyticsConfig = z.infer<z.ZodObject<typeof analyticsConfig>> & { DATA_DIR: string };

/**
 * packages/chdb is a dependency of nothing, so that the lean install (make start) leaves its 550 MB
 * out; it is found beside this package in the workspace, as source under tsx or compiled.
 */
async function loadChdbDriver(path: string): Promise<ClickHouseDriver> {
  const compiled = import.meta.url.endsWith('.js');
  const module = new URL(compiled ? '../../../chdb/dist/chdb-driver.js' : '../../../chdb/src/chdb-driver.ts', import.meta.url);
  let open: (path: string) => ClickHouseDriver;
  try {
    ({ openChdbDriver: open } = (await import(module.href)) as { openChdbDriver: (path: string) => ClickHouseDriver });
  } catch (error) {
    throw new Error(
      `ANALYTICS=chdb needs the embedded engine, which is not installed: run make install-analytics (about 550 MB). (${error instanceof Error ? error.message : error})`,
    );
  }
  return open(path);
}

/** The configured engine's connection (chdb in this process, or a server over HTTP), or null when ANALYTICS=off. */
export async function openAnalyticsDriver(config: AnalyticsConfig): Promise<ClickHouseDriver | null> {
  if (config.ANALYTICS === 'off') return null;
  return config.ANALYTICS === 'chdb'
    ? loadChdbDriver(config.CHDB_PATH ?? join(config.DATA_DIR, 'analytics'))
    : new ClickHouseClientDriver({
        url: config.CLICKHOUSE_URL as string,
        username: config.CLICKHOUSE_USER,
        password: config.CLICKHOUSE_PASSWORD,
        // Per-process bound on requests to the server: the queries allowed at once, plus the sink's.
        maxOpenConnections: config.ANALYTICS_MAX_QUERIES + 2,
        requestTimeoutMs: (config.ANALYTICS_QUERY_TIMEOUT_S + 5) * 1000,
      });
}

/**
 * The configured analytics store, or null when ANALYTICS=off. Nothing is sent yet: a ClickHouse that
 * is down at start must not stop the process (the sink creates the tables on its first round).
 */
export async function openAnalytics(config: AnalyticsConfig): Promise<AnalyticsStore | null> {
  const driver = await openAnalyticsDriver(config);
  if (driver === null) return null;
  const limits = { maxExecutionSeconds: config.ANALYTICS_QUERY_TIMEOUT_S, maxMemoryBytes: 1024 ** 3 };
  return new ClickHouseAnalyticsStore(driver, config.CLICKHOUSE_DB, limits);
}
