import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { connectFreshDatabase, REAL_MONGODB_URI } from '@logserver/testing/real-mongo';
import { afterAll, describe } from 'vitest';
import type { MongoConnection, MongoDatabase } from '../../src/mongo/database.js';
import { MongoLogStore } from '../../src/mongo/log-store.js';
import { MongoTenantStore } from '../../src/mongo/tenant-store.js';
import { describeLogStoreContract } from '../../src/store/log-store.contract.js';
import { describeTenantStoreContract } from '../../src/tenant-store/tenant-store.contract.js';

const options = { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 };

describeLogStoreContract('MongoLogStore (mingo collection double)', () => MongoLogStore.open(new MingoMongoDatabase(), options));
describeTenantStoreContract('MongoTenantStore (mingo collection double)', () => MongoTenantStore.open(new MingoMongoDatabase(), options));

// The same suites against a real server when one is given (README: docker compose up mongodb).
describe.skipIf(!REAL_MONGODB_URI)('against the MongoDB server at MONGODB_URI', () => {
  const connections: MongoConnection[] = [];
  // A fresh database per test, so every case starts empty as the contract expects.
  const freshDb = async (): Promise<MongoDatabase> => {
    const connection = await connectFreshDatabase();
    connections.push(connection);
    return connection.db;
  };
  afterAll(async () => {
    for (const connection of connections) await connection.close();
  });
  describeLogStoreContract('MongoLogStore (real server)', async () => MongoLogStore.open(await freshDb(), options));
  describeTenantStoreContract('MongoTenantStore (real server)', async () => MongoTenantStore.open(await freshDb(), options));
});
