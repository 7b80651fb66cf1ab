import { describe, it } from 'vitest';
import { describeAnalyticsStoreContract } from '../../src/analytics/analytics-store.contract.js';
import { ClickHouseAnalyticsStore } from '../../src/clickhouse/clickhouse-analytics-store.js';
import { ClickHouseClientDriver } from '../../src/clickhouse/clickhouse-client-driver.js';

const url = process.env.CLICKHOUSE_URL;

if (url) {
  // A database of its own per run, so a shared server keeps no state between runs.
  const database = `logdb_contract_${process.pid}_${Date.now()}`;
  describeAnalyticsStoreContract(`ClickHouse server at ${url}`, async () => {
    const driver = new ClickHouseClientDriver({
      url,
      username: process.env.CLICKHOUSE_USER,
      password: process.env.CLICKHOUSE_PASSWORD,
      maxOpenConnections: 4,
      requestTimeoutMs: 30_000,
    });
    return new ClickHouseAnalyticsStore(driver, database);
  });
} else {
  describe('AnalyticsStore contract: ClickHouse server', () => {
    it.skip('needs CLICKHOUSE_URL (docker compose --profile analytics up; README "Analytics")', () => {});
  });
}
