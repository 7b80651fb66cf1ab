import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openChdbDriver } from '../../../chdb/src/chdb-driver.js';
import { describeAnalyticsStoreContract } from '../../src/analytics/analytics-store.contract.js';
import { ClickHouseAnalyticsStore } from '../../src/clickhouse/clickhouse-analytics-store.js';

const dir = mkdtempSync(join(tmpdir(), 'logserver-chdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeAnalyticsStoreContract(
  'chdb (embedded ClickHouse engine)',
  async () => new ClickHouseAnalyticsStore(openChdbDriver(dir), 'logdb_contract'),
);
