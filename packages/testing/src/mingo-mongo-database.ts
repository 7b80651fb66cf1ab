import type { MongoChangeStream, MongoCollection, MongoCursor, MongoDatabase, MongoFindOptions } from '@logserver/shared/mongo/database';
import { aggregate, update as applyUpdate, Query } from 'mingo';
import type { ChangeStreamDocument, Document, Filter, IndexDescription, OptionalUnlessRequiredId, UpdateFilter, WithId } from 'mongodb';

/**
 * A MongoDB double for CI, where no server can run: the adapters' own filter documents and
 * pipelines are executed by mingo (MongoDB's query language in memory) behind the driver methods
 * the adapters call, with the driver's error shapes. What it cannot prove (the server's planner,
 * index use, PCRE, replica-set elections) is listed in the README.
 */

/** One call an adapter made, as it made it: the tests inspect these for operators from input. */
export interface RecordedOperation {
  collection: string;
  method: string;
  filter?: Document;
  pipeline?: Document[];
  options?: Document;
}

/** Shaped like the driver's MongoBulkWriteError, which the adapters read by its fields. */
class BulkWriteError extends Error {
  override readonly name = 'MongoBulkWriteError';
  readonly code: number;
  constructor(
    readonly writeErrors: { index: number; code: number; errmsg: string }[],
    readonly insertedCount: number,
  ) {
    super(writeErrors[0]?.errmsg ?? 'bulk write failed');
    this.code = writeErrors[0]?.code ?? 0;
  }
  get result() {
    return { insertedCount: this.insertedCount };
  }
}

/** Shaped like the driver's MongoServerError: a code and a code name. */
export class ServerError extends Error {
  override readonly name = 'MongoServerError';
  constructor(
    message: string,
    readonly code: number,
    readonly codeName: string,
    readonly errorLabels: string[] = [],
  ) {
    super(message);
  }
  hasErrorLabel(label: string): boolean {
    return this.errorLabels.includes(label);
  }
}

/** What the driver throws when no server can be selected. */
class ServerSelectionError extends Error {
  override readonly name = 'MongoServerSelectionError';
}

const clone = <T>(value: T): T => structuredClone(value);

class ArrayCursor<T> implements MongoCursor<T> {
  constructor(private readonly produce: () => T[]) {}
  async toArray(): Promise<T[]> {
    return this.produce();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    // Produced lazily, on first read, as a server cursor is opened on the first getMore.
    for (const item of this.produce()) yield item;
  }
}

interface Change {
  token: number;
  document: Document;
}

type Waiter = { resolve: () => void; reject: (error: Error) => void };

class ChangeStreamDouble<C> implements MongoChangeStream<C> {
  private position: number | null = null;
  private closed = false;
  private failure: Error | null = null;
  private waiter: Waiter | null = null;
  private lastToken: unknown = null;

  constructor(
    private readonly source: CollectionDouble<Document>,
    private readonly pipeline: Document[],
    private readonly resumeAfter: unknown,
  ) {}

  get resumeToken(): unknown {
    return this.lastToken;
  }

  /** The aggregate that opens a change stream runs on the first read, as the driver's does. */
  private open(): void {
    if (this.position !== null) return;
    if (!this.source.database.replicaSet) {
      throw new ServerError('The $changeStream stage is only supported on replica sets', 40573, 'Location40573');
    }
    if (this.resumeAfter === undefined) {
      this.position = this.source.latestToken();
      return;
    }
    const token = Number((this.resumeAfter as { _data?: string })._data);
    if (token <= this.source.forgottenUpTo) {
      throw new ServerError(
        'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
        286,
        'ChangeStreamHistoryLost',
        ['NonResumableChangeStreamError'],
      );
    }
    this.position = token;
  }

  private take(): C | null {
    for (const change of this.source.changesAfter(this.position ?? 0)) {
      this.position = change.token;
      this.lastToken = { _data: String(change.token) };
      if (aggregate([change.document], this.pipeline).length > 0) return clone(change.document) as C;
    }
    this.lastToken = { _data: String(this.position ?? 0) };
    return null;
  }

  private check(): void {
    if (this.closed) throw new Error('ChangeStream is closed');
    if (this.failure) {
      const failure = this.failure;
      this.closed = true;
      throw failure;
    }
    this.open();
  }

  async tryNext(): Promise<C | null> {
    this.check();
    return this.take();
  }

  async next(): Promise<C> {
    for (;;) {
      this.check();
      const change = this.take();
      if (change !== null) return change;
      await new Promise<void>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
    }
  }

  /** Called by the collection on every insert, and by the tests to break the stream. */
  wake(failure?: Error): void {
    if (failure) this.failure = failure;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(new Error('ChangeStream is closed'));
    this.source.streams.delete(this as ChangeStreamDouble<unknown>);
  }
}

const keyOf = (document: Document, fields: string[]): string => JSON.stringify(fields.map((field) => document[field] ?? null));

class CollectionDouble<T extends Document> implements MongoCollection<T> {
  private documents: Document[] = [];
  private nextId = 1;
  readonly indexes: IndexDescription[] = [];
  private readonly unique = new Map<string, { fields: string[]; keys: Set<string> }>();
  private readonly changes: Change[] = [];
  /** Resume tokens up to this one point at history the oplog no longer has. */
  forgottenUpTo = -1;
  readonly streams = new Set<ChangeStreamDouble<unknown>>();

  constructor(
    readonly database: MingoMongoDatabase,
    private readonly name: string,
  ) {
    this.unique.set('_id_', { fields: ['_id'], keys: new Set() });
  }

  private record(operation: Omit<RecordedOperation, 'collection'>): void {
    this.database.operations.push({ collection: this.name, ...clone(operation) });
  }

  async insertMany(input: OptionalUnlessRequiredId<T>[], options: { ordered: false }): Promise<{ insertedCount: number }> {
    this.record({ method: 'insertMany', options });
    this.database.failIfAsked();
    const writeErrors: { index: number; code: number; errmsg: string }[] = [];
    let insertedCount = 0;
    input.forEach((given, index) => {
      // The driver writes the generated _id into the caller's document; so does this.
      const target = given as Document;
      target._id ??= this.nextId++;
      const document = clone(target);
      for (const [name, index_] of this.unique) {
        if (index_.keys.has(keyOf(document, index_.fields))) {
          writeErrors.push({ index, code: 11000, errmsg: `E11000 duplicate key error collection: ${this.name} index: ${name}` });
          return;
        }
      }
      for (const index_ of this.unique.values()) index_.keys.add(keyOf(document, index_.fields));
      this.documents.push(document);
      insertedCount++;
      this.announce(document);
    });
    if (writeErrors.length > 0) throw new BulkWriteError(writeErrors, insertedCount);
    return { insertedCount };
  }

  /** The unique index this document would collide on in the collection (itself left out), if any. */
  private collision(document: Document, self?: Document): string | null {
    for (const [name, index] of this.unique) {
      const key = keyOf(document, index.fields);
      if (!index.keys.has(key)) continue;
      if (self !== undefined && keyOf(self, index.fields) === key) continue;
      return name;
    }
    return null;
  }

  private duplicate(name: string): ServerError {
    return new ServerError(`E11000 duplicate key error collection: ${this.name} index: ${name}`, 11000, 'DuplicateKey');
  }

  private store(document: Document): void {
    for (const index of this.unique.values()) index.keys.add(keyOf(document, index.fields));
    this.documents.push(document);
    this.announce(document);
  }

  async insertOne(given: OptionalUnlessRequiredId<T>): Promise<unknown> {
    this.record({ method: 'insertOne' });
    this.database.failIfAsked();
    const target = given as Document;
    target._id ??= this.nextId++;
    const document = clone(target);
    const name = this.collision(document);
    if (name !== null) throw this.duplicate(name);
    this.store(document);
    return { insertedId: document._id };
  }

  /** Applies the update to the first match in place, as one atomic step (the double is single-threaded). */
  private modify(filter: Filter<T>, update: UpdateFilter<T>, upsert: boolean): { before: Document | null; after: Document | null } {
    this.database.failIfAsked();
    const query = new Query(filter as Document);
    const found = this.documents.find((document) => query.test(document));
    if (found === undefined) {
      if (!upsert) return { before: null, after: null };
      // As the server does: the filter's equality fields seed the new document, then the update applies.
      const seed: Document = {};
      for (const [field, value] of Object.entries(filter as Document)) {
        if (field.startsWith('$')) continue;
        if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
          if ('$eq' in value) seed[field] = clone(value.$eq);
          continue;
        }
        seed[field] = clone(value);
      }
      applyUpdate(seed, clone(update) as never);
      seed._id ??= this.nextId++;
      const name = this.collision(seed);
      if (name !== null) throw this.duplicate(name);
      this.store(seed);
      return { before: null, after: clone(seed) };
    }
    const next = clone(found);
    applyUpdate(next, clone(update) as never);
    const name = this.collision(next, found);
    if (name !== null) throw this.duplicate(name);
    const before = clone(found);
    for (const index of this.unique.values()) index.keys.delete(keyOf(found, index.fields));
    for (const key of Object.keys(found)) delete found[key];
    Object.assign(found, next);
    for (const index of this.unique.values()) index.keys.add(keyOf(found, index.fields));
    return { before, after: clone(found) };
  }

  async updateOne(filter: Filter<T>, update: UpdateFilter<T>): Promise<{ matchedCount: number; modifiedCount: number }> {
    this.record({ method: 'updateOne', filter, options: { update } });
    const { before } = this.modify(filter, update, false);
    return before === null ? { matchedCount: 0, modifiedCount: 0 } : { matchedCount: 1, modifiedCount: 1 };
  }

  async findOneAndUpdate(
    filter: Filter<T>,
    update: UpdateFilter<T>,
    options: { upsert?: boolean; returnDocument: 'before' | 'after'; includeResultMetadata: false },
  ): Promise<WithId<T> | null> {
    this.record({ method: 'findOneAndUpdate', filter, options: { update, ...options } });
    const { before, after } = this.modify(filter, update, options.upsert ?? false);
    return (options.returnDocument === 'after' ? after : before) as WithId<T> | null;
  }

  find(filter: Filter<T>, options: MongoFindOptions = {}): MongoCursor<T> {
    this.record({ method: 'find', filter, options });
    return new ArrayCursor(() => {
      this.database.failIfAsked();
      let cursor = new Query(filter as Document).find<Document>(this.documents, options.projection);
      if (options.sort) cursor = cursor.sort(options.sort as Record<string, 1 | -1>);
      if (options.skip) cursor = cursor.skip(options.skip);
      if (options.limit) cursor = cursor.limit(options.limit);
      return clone(cursor.all()) as T[];
    });
  }

  async countDocuments(filter: Filter<T>, options: { maxTimeMS?: number } = {}): Promise<number> {
    this.record({ method: 'countDocuments', filter, options });
    this.database.failIfAsked();
    return new Query(filter as Document).find(this.documents).all().length;
  }

  aggregate<R extends Document>(pipeline: Document[], options: { maxTimeMS?: number; hint?: string } = {}): MongoCursor<R> {
    this.record({ method: 'aggregate', pipeline, options });
    if (options.hint !== undefined && !this.indexes.some((index) => index.name === options.hint)) {
      // As the server answers a hint that names no index.
      throw new ServerError(`hint provided does not correspond to an existing index: ${options.hint}`, 2, 'BadValue');
    }
    return new ArrayCursor(() => {
      this.database.failIfAsked();
      return clone(aggregate(this.documents, pipeline)) as R[];
    });
  }

  async deleteMany(filter: Filter<T>): Promise<{ deletedCount: number }> {
    this.record({ method: 'deleteMany', filter });
    this.database.failIfAsked();
    const query = new Query(filter as Document);
    const kept = this.documents.filter((document) => !query.test(document));
    const deletedCount = this.documents.length - kept.length;
    this.documents = kept;
    for (const index of this.unique.values()) index.keys = new Set(kept.map((document) => keyOf(document, index.fields)));
    return { deletedCount };
  }

  async createIndexes(indexes: IndexDescription[]): Promise<string[]> {
    this.record({ method: 'createIndexes', options: { indexes } });
    this.database.failIfAsked();
    const names: string[] = [];
    for (const index of indexes) {
      const fields = Object.keys(index.key as Record<string, number>);
      const name = index.name ?? fields.join('_');
      names.push(name);
      if (this.indexes.some((existing) => existing.name === name)) continue;
      this.indexes.push(clone(index));
      if (!index.unique) continue;
      const keys = new Set<string>();
      for (const document of this.documents) {
        const key = keyOf(document, fields);
        if (keys.has(key)) throw new ServerError(`E11000 duplicate key error building index ${name}`, 11000, 'DuplicateKey');
        keys.add(key);
      }
      this.unique.set(name, { fields, keys });
    }
    return names;
  }

  watch(pipeline: Document[], options: { resumeAfter?: unknown } = {}): MongoChangeStream<ChangeStreamDocument<T>> {
    this.record({ method: 'watch', pipeline, options });
    const stream = new ChangeStreamDouble<ChangeStreamDocument<T>>(
      this as unknown as CollectionDouble<Document>,
      pipeline,
      options.resumeAfter,
    );
    this.streams.add(stream as ChangeStreamDouble<unknown>);
    return stream;
  }

  latestToken(): number {
    return this.changes.at(-1)?.token ?? Math.max(0, this.forgottenUpTo);
  }

  changesAfter(token: number): Change[] {
    return this.changes.filter((change) => change.token > token);
  }

  private announce(document: Document): void {
    const token = this.latestToken() + 1;
    this.changes.push({
      token,
      document: {
        _id: { _data: String(token) },
        operationType: 'insert',
        ns: { db: 'double', coll: this.name },
        documentKey: { _id: document._id },
        fullDocument: clone(document),
      },
    });
    for (const stream of this.streams) stream.wake();
  }

  /** As if the oplog rolled over: every token handed out so far can no longer be resumed from. */
  forgetHistory(): void {
    this.forgottenUpTo = this.latestToken();
    this.changes.length = 0;
  }

  count(): number {
    return this.documents.length;
  }
}

/**
 * The double's database. `replicaSet: false` behaves like a standalone server (change streams are
 * refused with code 40573); `reachable = false` makes every call fail as an unreachable server does.
 */
export class MingoMongoDatabase implements MongoDatabase {
  readonly operations: RecordedOperation[] = [];
  readonly replicaSet: boolean;
  reachable = true;
  private readonly collections = new Map<string, CollectionDouble<Document>>();
  private nextFailure: Error | null = null;

  constructor(options: { replicaSet?: boolean } = {}) {
    this.replicaSet = options.replicaSet ?? true;
  }

  collection<T extends Document>(name: string): MongoCollection<T> & CollectionDouble<T> {
    let collection = this.collections.get(name);
    if (!collection) {
      collection = new CollectionDouble(this, name);
      this.collections.set(name, collection);
    }
    return collection as unknown as MongoCollection<T> & CollectionDouble<T>;
  }

  async command(command: Document): Promise<Document> {
    this.operations.push({ collection: '', method: 'command', options: clone(command) });
    // An unreachable server never answers: the driver waits for server selection, so ping must time out.
    if (!this.reachable) return new Promise(() => {});
    return { ok: 1 };
  }

  /** The next collection call fails with this error, as a server or network fault would. */
  failNextOperation(error: Error): void {
    this.nextFailure = error;
  }

  /** Makes every open change stream of a collection fail with this error on its next read. */
  breakChangeStreams(collection: string, error: Error): void {
    for (const stream of this.collection(collection).streams) stream.wake(error);
  }

  failIfAsked(): void {
    if (!this.reachable) throw new ServerSelectionError('Server selection timed out');
    const failure = this.nextFailure;
    this.nextFailure = null;
    if (failure) throw failure;
  }
}
