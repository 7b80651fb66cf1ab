import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { connectFreshDatabase, REAL_MONGODB_URI } from '@logserver/testing/real-mongo';
import { afterAll, describe } from 'vitest';
import { describeIdempotencyStoreContract } from '../../src/idempotency/idempotency-store.contract.js';
import type { MongoConnection } from '../../src/mongo/database.js';
import { MongoIdempotencyStore } from '../../src/mongo/idempotency-store.js';

describeIdempotencyStoreContract('MongoIdempotencyStore (mingo collection double)', () =>
  MongoIdempotencyStore.open(new MingoMongoDatabase()),
);

describe.runIf(REAL_MONGODB_URI)('on a real MongoDB server (MONGODB_URI)', () => {
  const connections: MongoConnection[] = [];
  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.close()));
  });
  describeIdempotencyStoreContract('MongoIdempotencyStore (real server)', async () => {
    const connection = await connectFreshDatabase();
    connections.push(connection);
    return MongoIdempotencyStore.open(connection.db);
  });
});
