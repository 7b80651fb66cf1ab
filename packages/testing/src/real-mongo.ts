import { randomBytes } from 'node:crypto';
import { connectMongo, type MongoConnection } from '@logserver/shared/mongo/database';

/** The MongoDB server the real-server suites run against; unset in CI, where they are skipped. */
export const REAL_MONGODB_URI = process.env.MONGODB_URI;

/** A name no other test run uses. */
export const freshDatabaseName = (): string => `logserver_test_${randomBytes(6).toString('hex')}`;

/** A connection to a fresh, uniquely named database on that server (or the one named); `close` drops it. */
export async function connectFreshDatabase(database = freshDatabaseName()): Promise<MongoConnection> {
  const connection = await connectMongo({
    uri: REAL_MONGODB_URI ?? 'mongodb://127.0.0.1:27017',
    database,
    maxPoolSize: 5,
    minPoolSize: 0,
    connectTimeoutMs: 5_000,
    serverSelectionTimeoutMs: 5_000,
    socketTimeoutMs: 0,
  });
  return {
    db: connection.db,
    close: async () => {
      await connection.db.command({ dropDatabase: 1 });
      await connection.close();
    },
  };
}
