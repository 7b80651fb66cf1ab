import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { connectFreshDatabase, REAL_MONGODB_URI } from '@logserver/testing/real-mongo';
import { afterAll, describe } from 'vitest';
import { describeIntegrityStoreContract } from '../../src/integrity/integrity-store.contract.js';
import type { MongoConnection, MongoDatabase } from '../../src/mongo/database.js';
import { MongoIntegrityStore } from '../../src/mongo/integrity-store.js';
import { MongoLogStore } from '../../src/mongo/log-store.js';

const options = { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 };

async function fixture(db: MongoDatabase) {
  const logs = await MongoLogStore.open(db, options);
  const integrity = await MongoIntegrityStore.open(db);
  return { logs, integrity, close: () => integrity.close() };
}

describeIntegrityStoreContract('MongoIntegrityStore (mingo collection double)', () => fixture(new MingoMongoDatabase()));

// The same suite against a real server when one is given (README: docker compose up mongodb).
describe.skipIf(!REAL_MONGODB_URI)('against the MongoDB server at MONGODB_URI', () => {
  const connections: MongoConnection[] = [];
  afterAll(async () => {
    for (const connection of connections) await connection.close();
  });
  describeIntegrityStoreContract('MongoIntegrityStore (real server)', async () => {
    const connection = await connectFreshDatabase();
    connections.push(connection);
    return fixture(connection.db);
  });
});
