import {
  type ChangeStreamDocument,
  type Document,
  type Filter,
  type IndexDescription,
  MongoClient,
  type OptionalUnlessRequiredId,
  type Sort,
  type UpdateFilter,
  type WithId,
} from 'mongodb';
import { Unavailable } from '../errors/catalogue.js';

/**
 * The part of the driver's Db that the MongoDB adapters use. The driver's own `Db` satisfies it,
 * and so does the in-memory double in `testing/`, which runs the same filter documents and
 * pipelines with mingo; nothing else of the driver leaks into the adapters.
 */
export interface MongoDatabase {
  collection<T extends Document>(name: string): MongoCollection<T>;
  command(command: Document): Promise<Document>;
}

export interface MongoCursor<T> extends AsyncIterable<T> {
  toArray(): Promise<T[]>;
}

export interface MongoFindOptions {
  sort?: Sort;
  skip?: number;
  limit?: number;
  projection?: Document;
  batchSize?: number;
  maxTimeMS?: number;
}

/** A change stream as the feed reads it: one change at a time, and the token to resume after it. */
export interface MongoChangeStream<C> {
  next(): Promise<C>;
  /** The next change, or null once the server answered that there is none yet; opens the stream. */
  tryNext(): Promise<C | null>;
  readonly resumeToken: unknown;
  close(): Promise<void>;
}

export interface MongoCollection<T extends Document> {
  /** Throws a MongoBulkWriteError (writeErrors, insertedCount) when any document was refused. */
  insertMany(documents: OptionalUnlessRequiredId<T>[], options: { ordered: false }): Promise<{ insertedCount: number }>;
  find(filter: Filter<T>, options?: MongoFindOptions): MongoCursor<T>;
  countDocuments(filter: Filter<T>, options?: { maxTimeMS?: number }): Promise<number>;
  aggregate<R extends Document>(pipeline: Document[], options?: { maxTimeMS?: number; hint?: string }): MongoCursor<R>;
  deleteMany(filter: Filter<T>): Promise<{ deletedCount: number }>;
  createIndexes(indexes: IndexDescription[]): Promise<string[]>;
  watch(pipeline: Document[], options?: { resumeAfter?: unknown }): MongoChangeStream<ChangeStreamDocument<T>>;
  /** Throws a MongoServerError with code 11000 when a unique index refuses the document. */
  insertOne(document: OptionalUnlessRequiredId<T>): Promise<unknown>;
  updateOne(filter: Filter<T>, update: UpdateFilter<T>): Promise<{ matchedCount: number; modifiedCount: number }>;
  /** Atomic on one document; with upsert and no match it inserts, and a unique index may refuse that (11000). */
  findOneAndUpdate(
    filter: Filter<T>,
    update: UpdateFilter<T>,
    options: { upsert?: boolean; returnDocument: 'before' | 'after'; includeResultMetadata: false },
  ): Promise<WithId<T> | null>;
}

export interface MongoSettings {
  uri: string;
  database: string;
  maxPoolSize: number;
  minPoolSize: number;
  connectTimeoutMs: number;
  serverSelectionTimeoutMs: number;
  socketTimeoutMs: number;
}

export interface MongoConnection {
  db: MongoDatabase;
  close(): Promise<void>;
}

/**
 * Connects with the pool and timeouts from config and retryable writes on, so a write interrupted
 * by a primary step-down is retried once by the driver instead of failing the batch.
 * Throws when no server answers within the server selection timeout.
 */
export async function connectMongo(settings: MongoSettings): Promise<MongoConnection> {
  const client = new MongoClient(settings.uri, {
    appName: 'logserver',
    maxPoolSize: settings.maxPoolSize,
    minPoolSize: settings.minPoolSize,
    connectTimeoutMS: settings.connectTimeoutMs,
    serverSelectionTimeoutMS: settings.serverSelectionTimeoutMs,
    socketTimeoutMS: settings.socketTimeoutMs,
    retryWrites: true,
    retryReads: true,
  });
  try {
    await client.connect();
  } catch (error) {
    await client.close().catch(() => {});
    // The URI is left out on purpose: it may carry a password.
    throw new Error(
      `MongoDB did not answer within ${settings.serverSelectionTimeoutMs} ms (${error instanceof Error ? error.message : String(error)}): start it (docker compose up mongodb) or check MONGODB_URI`,
      { cause: error },
    );
  }
  return { db: client.db(settings.database), close: () => client.close() };
}

/** Answers once the server does, or throws after `timeoutMs`, so /readyz never hangs on a dead server. */
export async function pingWithin(db: MongoDatabase, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Unavailable(`MongoDB did not answer a ping within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([db.command({ ping: 1 }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
