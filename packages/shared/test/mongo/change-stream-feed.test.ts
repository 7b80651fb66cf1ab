import { makeEvent } from '@logserver/testing/events';
import { MingoMongoDatabase, ServerError } from '@logserver/testing/mingo-mongo-database';
import { connectFreshDatabase, REAL_MONGODB_URI } from '@logserver/testing/real-mongo';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { describeLogFeedContract } from '../../src/feed/log-feed.contract.js';
import { MongoChangeStreamFeed, uuidv7Floor } from '../../src/mongo/change-stream-feed.js';
import type { MongoDatabase } from '../../src/mongo/database.js';
import { MongoLogStore } from '../../src/mongo/log-store.js';
import { LOGS_COLLECTION } from '../../src/mongo/logs-collection.js';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });

/** Collects what the feed logs, so a test can say how often it warned and about what. */
function recordingLog() {
  const warnings: string[] = [];
  const log = {
    info: () => {},
    warn: (...args: unknown[]) => {
      warnings.push(String(args.find((arg) => typeof arg === 'string') ?? ''));
    },
  };
  return { log: log as unknown as ConstructorParameters<typeof MongoChangeStreamFeed>[1]['log'], warnings };
}

const feedOptions = { pollIntervalMs: 20, lookbackMs: 30_000, reopenMinMs: 5, reopenMaxMs: 20 };

async function harnessOn(db: MongoDatabase, onClose: () => Promise<void> = async () => {}) {
  const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
  const feed = new MongoChangeStreamFeed(db, { ...feedOptions, log: recordingLog().log });
  return {
    feed,
    store: async (events: LogEvent[]) => {
      await store.append(tenantOf({ tenant: events[0]?.tenant_id ?? '' }), events);
    },
    close: onClose,
  };
}

// It only wakes MongoCommitFeed, which reads the positions: its own listeners get none.
const wakeUpOnly = { positions: false };
describeLogFeedContract(
  'MongoChangeStreamFeed, change streams (mingo double, replica set)',
  () => harnessOn(new MingoMongoDatabase()),
  5_000,
  wakeUpOnly,
);
describeLogFeedContract(
  'MongoChangeStreamFeed, polling fallback (mingo double, standalone)',
  () => harnessOn(new MingoMongoDatabase({ replicaSet: false })),
  5_000,
  wakeUpOnly,
);

describe('MongoChangeStreamFeed on the double', () => {
  const open: { feed: MongoChangeStreamFeed }[] = [];
  afterEach(async () => {
    for (const { feed } of open.splice(0)) await feed.close();
  });

  async function setUp(db: MingoMongoDatabase) {
    const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
    const { log, warnings } = recordingLog();
    const feed = new MongoChangeStreamFeed(db, { ...feedOptions, log });
    open.push({ feed });
    await feed.start();
    const seen: string[] = [];
    feed.subscribe(A, (event) => seen.push(event.id));
    const watches = () => db.operations.filter((operation) => operation.collection === LOGS_COLLECTION && operation.method === 'watch');
    return { store, feed, warnings, seen, watches };
  }

  it('resumes after a resumable error from the last token, losing and repeating nothing', async () => {
    const db = new MingoMongoDatabase();
    const { store, feed, seen, watches } = await setUp(db);
    expect(feed.deliveryMode).toBe('change-stream');
    const before = [makeEvent(A), makeEvent(A)];
    await store.append(A, before);
    await expect.poll(() => seen.length === 2, { timeout: 5_000, interval: 20 }).toBe(true);

    const resumable = new ServerError('connection reset', 6, 'HostUnreachable', ['ResumableChangeStreamError']);
    db.breakChangeStreams(LOGS_COLLECTION, resumable);
    // Stored while the stream is down: the resumed stream must still hand these out, once.
    const during = [makeEvent(A), makeEvent(A), makeEvent(A)];
    await store.append(A, during);
    await expect.poll(() => seen.length === 5, { timeout: 5_000, interval: 20 }).toBe(true);

    expect(seen).toEqual([...before, ...during].map((event) => event.id));
    expect(watches()).toHaveLength(2);
    expect(watches()[1]?.options).toEqual({ resumeAfter: { _data: '2' } });
  });

  it('on ChangeStreamHistoryLost (286) drops the token and reopens from now instead of retrying it', async () => {
    const db = new MingoMongoDatabase();
    const { store, seen, warnings, watches } = await setUp(db);
    await store.append(A, [makeEvent(A)]);
    await expect.poll(() => seen.length === 1, { timeout: 5_000, interval: 20 }).toBe(true);

    db.collection(LOGS_COLLECTION).forgetHistory();
    db.breakChangeStreams(LOGS_COLLECTION, new ServerError('socket closed', 6, 'HostUnreachable', ['ResumableChangeStreamError']));
    await expect.poll(() => watches().length >= 3, { timeout: 5_000, interval: 20 }).toBe(true);
    // Give a looping implementation the time to show itself before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = makeEvent(A);
    await store.append(A, [after]);
    await expect.poll(() => seen.includes(after.id), { timeout: 5_000, interval: 20 }).toBe(true);

    expect(seen.at(-1)).toBe(after.id);
    expect(watches().map((watch) => watch.options)).toEqual([{}, { resumeAfter: { _data: '1' } }, {}]);
    expect(warnings.filter((warning) => warning.includes('history lost'))).toHaveLength(1);
  });

  it('on a standalone server says so once at start and polls, reaching subscribers on every replica', async () => {
    const db = new MingoMongoDatabase({ replicaSet: false });
    const first = await setUp(db);
    const second = await setUp(db);
    expect(first.feed.deliveryMode).toBe('polling');
    const events = [makeEvent(A), makeEvent(A), makeEvent(A)];
    await first.store.append(A, events);
    await expect.poll(() => first.seen.length === 3 && second.seen.length === 3, { timeout: 5_000, interval: 20 }).toBe(true);
    expect(first.seen).toEqual(events.map((event) => event.id));
    expect(second.seen).toEqual(first.seen);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(first.warnings.filter((warning) => warning.includes('not a replica set'))).toHaveLength(1);
  });

  it('polling still delivers an event stored after a newer one was seen (a slower writer)', async () => {
    const db = new MingoMongoDatabase({ replicaSet: false });
    const { store, seen } = await setUp(db);
    const older = makeEvent(A, { id: uuidv7({ msecs: Date.now() - 5_000 }) });
    const newer = makeEvent(A);
    await store.append(A, [newer]);
    await expect.poll(() => seen.length === 1, { timeout: 5_000, interval: 20 }).toBe(true);
    await store.append(A, [older]);
    await expect.poll(() => seen.length === 2, { timeout: 5_000, interval: 20 }).toBe(true);
    expect(seen).toEqual([newer.id, older.id]);
  });

  it('polling does not replay what was stored before the first subscriber came', async () => {
    const db = new MingoMongoDatabase({ replicaSet: false });
    const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
    await store.append(A, [makeEvent(A), makeEvent(A)]);
    const feed = new MongoChangeStreamFeed(db, { ...feedOptions, log: recordingLog().log });
    open.push({ feed });
    await feed.start();
    const seen: string[] = [];
    feed.subscribe(A, (event) => seen.push(event.id));
    const fresh = makeEvent(A);
    await store.append(A, [fresh]);
    await expect.poll(() => seen.length >= 1, { timeout: 5_000, interval: 20 }).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([fresh.id]);
  });

  it('orders UUIDv7 floors as the ids of that millisecond', () => {
    const now = Date.now();
    const id = uuidv7({ msecs: now });
    expect(uuidv7Floor(now) <= id).toBe(true);
    expect(uuidv7Floor(now + 1) > id).toBe(true);
  });
});

// Real change streams need a replica set (a single-node one will do).
describe.skipIf(!REAL_MONGODB_URI)('against the MongoDB server at MONGODB_URI', () => {
  describeLogFeedContract(
    'MongoChangeStreamFeed (real server)',
    async () => {
      const connection = await connectFreshDatabase();
      return harnessOn(connection.db, connection.close);
    },
    5_000,
    wakeUpOnly,
  );
});
