import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeIdempotencyStoreContract } from '../../src/idempotency/idempotency-store.contract.js';
import { SqliteIdempotencyStore } from '../../src/sqlite/idempotency-store.js';

const freshFile = () => join(mkdtempSync(join(tmpdir(), 'idempotency-')), 'logserver.db');

describeIdempotencyStoreContract('SqliteIdempotencyStore (file on disk)', async () => SqliteIdempotencyStore.open(freshFile()));
