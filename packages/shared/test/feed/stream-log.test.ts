import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { afterEach, describe, expect, it } from 'vitest';
import { describeLogFeedContract } from '../../src/feed/log-feed.contract.js';
import type { StreamLog } from '../../src/feed/port.js';
import { MongoChangeStreamFeed } from '../../src/mongo/change-stream-feed.js';
import { MongoCommitFeed } from '../../src/mongo/commit-feed.js';
import { MongoIntegrityStore } from '../../src/mongo/integrity-store.js';
import { MongoLogStore } from '../../src/mongo/log-store.js';
import { MongoStreamLog } from '../../src/mongo/stream-log.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { SqliteStreamLog } from '../../src/sqlite/stream-log.js';
import { matchesFilter } from '../../src/store/filter.js';
import type { LogFilter, LogStore } from '../../src/store/port.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });

interface Opened {
  store: LogStore;
  log: StreamLog;
}

const adapters: Record<string, () => Promise<Opened>> = {
  SqliteStreamLog: async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'logserver-commit-')), 'logs.db');
    return { store: SqliteLogStore.open(path), log: new SqliteStreamLog(path) };
  },
  'MongoStreamLog (mingo double)': async () => {
    const db = new MingoMongoDatabase();
    const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
    return { store, log: new MongoStreamLog(db, await MongoIntegrityStore.open(db)) };
  },
};

for (const [name, open] of Object.entries(adapters)) {
  describe(`StreamLog: ${name}`, () => {
    let opened: Opened;
    afterEach(async () => {
      await opened.log.close();
      await opened.store.close();
    });

    it('pages one tenant’s matching events in commit order, whatever their timestamps, and says what it holds', async () => {
      opened = await open();
      const random = seededRandom(16);
      // Timestamps are random, so timestamp order is not commit order: the log must follow commits.
      const batches = Array.from({ length: 12 }, (_, index) =>
        Array.from({ length: 25 }, () => makeEvent(index % 3 === 0 ? 'tenant-b' : 'tenant-a', {}, random)),
      );
      for (const batch of batches) await opened.store.append(tenantOf({ tenant: batch[0]?.tenant_id as string }), batch);
      const committedA = batches.flat().filter((event) => event.tenant_id === 'tenant-a');
      for (const filter of [{}, { severity: ['ERROR', 'CRITICAL'] }, { action: 'login', resource_type: 'user' }] as LogFilter[]) {
        const read: string[] = [];
        let position = 0;
        for (;;) {
          const page = await opened.log.after(A, position, filter, 7);
          for (const entry of page) {
            expect(entry.position).toBeGreaterThan(position);
            expect(entry.event.tenant_id).toBe('tenant-a');
            position = entry.position;
            read.push(entry.event.id);
          }
          if (page.length < 7) break;
        }
        expect(read).toEqual(committedA.filter((event) => matchesFilter(event, filter)).map((event) => event.id));
      }
      const head = await opened.log.head();
      expect(await opened.log.after(A, head, {}, 10)).toEqual([]);
      expect(await opened.log.holds(A, committedA[0]?.id as string)).toBe(true);
      expect(await opened.log.holds(B, committedA[0]?.id as string)).toBe(false);
      await opened.store.deleteOlderThan(A, null);
      expect(await opened.log.holds(A, committedA[0]?.id as string)).toBe(false);
    });
  });
}

describeLogFeedContract('MongoCommitFeed (mingo double, woken by the change stream)', async () => {
  const db = new MingoMongoDatabase();
  const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
  const integrity = await MongoIntegrityStore.open(db);
  const wakeUp = new MongoChangeStreamFeed(db, { log: { info: () => {}, warn: () => {} }, pollIntervalMs: 20, lookbackMs: 30_000 });
  const feed = new MongoCommitFeed(db, integrity, { pollMs: 1_000, wakeUp });
  return {
    feed,
    store: async (events) => {
      await store.append(tenantOf({ tenant: events[0]?.tenant_id ?? '' }), events);
    },
    close: async () => {},
  };
});

describeLogFeedContract('MongoCommitFeed (mingo double, standalone: polling alone)', async () => {
  const db = new MingoMongoDatabase({ replicaSet: false });
  const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
  const feed = new MongoCommitFeed(db, await MongoIntegrityStore.open(db), { pollMs: 20 });
  return {
    feed,
    store: async (events) => {
      await store.append(tenantOf({ tenant: events[0]?.tenant_id ?? '' }), events);
    },
    close: async () => {},
  };
});
