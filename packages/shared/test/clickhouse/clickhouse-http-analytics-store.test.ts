import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type ClickHouseDouble, startClickHouseDouble } from '../../../../test/support/clickhouse-double.js';
import { describeAnalyticsStoreContract } from '../../src/analytics/analytics-store.contract.js';
import { ClickHouseAnalyticsStore } from '../../src/clickhouse/clickhouse-analytics-store.js';
import { ClickHouseClientDriver } from '../../src/clickhouse/clickhouse-client-driver.js';

// The server adapter over HTTP, on the real engine behind ClickHouse's HTTP interface (no server can run here).
const dir = mkdtempSync(join(tmpdir(), 'logserver-chhttp-'));
let server: ClickHouseDouble;
beforeAll(async () => {
  server = await startClickHouseDouble(dir);
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describeAnalyticsStoreContract('@clickhouse/client over HTTP (chdb behind the HTTP interface)', async () => {
  const driver = new ClickHouseClientDriver({ url: server.url, maxOpenConnections: 4, requestTimeoutMs: 30_000 });
  return new ClickHouseAnalyticsStore(driver, 'logdb_contract');
});
