import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { MongoStreamStore } from '../../src/mongo/stream-store.js';
import { SqliteStreamStore } from '../../src/sqlite/stream-store.js';
import { describeStreamStoreContract } from '../../src/streams/stream-store.contract.js';

describeStreamStoreContract('SqliteStreamStore (a file on disk)', async () =>
  SqliteStreamStore.open(join(mkdtempSync(join(tmpdir(), 'logserver-streams-')), 'logserver.db')),
);
describeStreamStoreContract('MongoStreamStore (mingo collection double)', () => MongoStreamStore.open(new MingoMongoDatabase()));
