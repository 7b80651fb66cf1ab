import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeIntegrityStoreContract } from '../../src/integrity/integrity-store.contract.js';
import { SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';

describeIntegrityStoreContract('SqliteIntegrityStore (file on disk)', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'logserver-integrity-')), 'logserver.db');
  const logs = SqliteLogStore.open(path);
  const integrity = SqliteIntegrityStore.open(path);
  return {
    logs,
    integrity,
    close: async () => {
      await integrity.close();
      await logs.close();
    },
  };
});
