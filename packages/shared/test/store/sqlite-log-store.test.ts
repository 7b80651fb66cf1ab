import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLogStoreContract } from '../../src/store/log-store.contract.js';
import { SqliteLogStore } from '../../src/store/sqlite-log-store.js';
import { SqliteTenantStore } from '../../src/tenant-store/sqlite-tenant-store.js';
import { describeTenantStoreContract } from '../../src/tenant-store/tenant-store.contract.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'logserver-sqlite-')), 'logserver.db');

describeLogStoreContract('SqliteLogStore (file on disk)', async () => SqliteLogStore.open(freshFile()));
describeTenantStoreContract('SqliteTenantStore (file on disk)', async () => SqliteTenantStore.open(freshFile()));
