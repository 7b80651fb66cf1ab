import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent } from '@logserver/testing/events';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { storeSettings } from '../../src/config/schemas.js';
import { openMongoStores } from '../../src/mongo/stores.js';
import { RetentionJob } from '../../src/retention/job.js';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { openSqliteStores } from '../../src/sqlite/stores.js';
import type { LogStore } from '../../src/store/port.js';
import { tenantOf } from '../../src/store/tenant-id.js';
import type { Stores } from '../../src/stores.js';

const DAY = 86_400_000;
const LEASE_MS = 60_000;
const T1 = tenantOf({ tenant: 'lease-one' });
const T2 = tenantOf({ tenant: 'lease-two' });
const log = pino({ level: 'silent' });

/** Two replicas' stores over one database: two SQLite connections to one file, or two store sets on one MongoDB (the mingo double). */
const TECHNOLOGIES: { name: string; open: () => Promise<{ replicas: [Stores, Stores]; close: () => Promise<void> }> }[] = [
  {
    name: 'SQLite (one file, two connections)',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'retention-lease-'));
      const settings = storeSettings.parse({ STORE: 'sqlite', DATA_DIR: dir });
      const replicas: [Stores, Stores] = [await openSqliteStores(settings), await openSqliteStores(settings)];
      return {
        replicas,
        close: async () => {
          for (const stores of replicas) {
            await stores.logs.close();
            await stores.tenants.close();
            await stores.integrity?.close();
            await stores.idempotency.close();
            await stores.retention.close();
            await stores.streamLog.close();
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'MongoDB (mingo double, two store sets)',
    open: async () => {
      const db = new MingoMongoDatabase();
      const settings = storeSettings.parse({ STORE: 'mongodb', MONGODB_URI: 'mongodb://127.0.0.1:9/never-dialled' });
      return {
        replicas: [
          await openMongoStores(settings, { log, mongoDatabase: db }),
          await openMongoStores(settings, { log, mongoDatabase: db }),
        ],
        close: async () => {},
      };
    },
  },
];

/** A clock the test moves: lease expiry is judged on the job's own `now`. */
function clock(start: number) {
  let at = start;
  return { now: () => new Date(at), advance: (ms: number) => (at += ms) };
}

function job(stores: Stores, options: { now: () => Date; logs?: Pick<LogStore, 'deleteOlderThan'>; holder: string }) {
  return new RetentionJob({
    retention: stores.retention,
    logs: options.logs ?? stores.logs,
    record: async (events: LogEvent[]) => stores.logs.append(tenantOf({ tenant: events[0]?.tenant_id ?? '' }), events),
    tenantLimit: 1000,
    leaseMs: LEASE_MS,
    holder: options.holder,
    newId: uuidv7,
    now: options.now,
  });
}

async function seedOld(stores: Stores, count: number) {
  const old = new Date(Date.now() - 40 * DAY).toISOString();
  for (const tenant of [T1, T2]) {
    await stores.logs.append(
      tenant,
      Array.from({ length: count }, () => makeEvent(tenant, { timestamp: old, severity: 'INFO' })),
    );
    await stores.retention.put(tenant, { retention_days: 30, severity_days: {}, legal_hold: false, updated_at: old, updated_by: 'test' });
  }
}

const stillStored = async (stores: Stores, tenant: typeof T1) =>
  (await stores.logs.stats(tenant, {}, { groupBy: 'severity' })).totals.INFO ?? 0;

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanups) await close();
  cleanups = [];
});

describe.each(TECHNOLOGIES)('the retention job’s lease on $name', ({ open }) => {
  it('two replicas started together: exactly one deletes, the other skips', async () => {
    const { replicas, close } = await open();
    cleanups.push(close);
    await seedOld(replicas[0], 5);
    const time = clock(Date.now());
    const [a, b] = await Promise.all([
      job(replicas[0], { now: time.now, holder: 'replica-a' }).runOnce(),
      job(replicas[1], { now: time.now, holder: 'replica-b' }).runOnce(),
    ]);
    expect([a.skipped, b.skipped].sort()).toEqual([false, true]);
    const ran = a.skipped ? b : a;
    expect(ran.deleted).toBe(10);
    expect((a.skipped ? a : b).tenants).toEqual([]);
    expect(await stillStored(replicas[1], T1)).toBe(0);
    expect(await stillStored(replicas[0], T2)).toBe(0);
    // The lease was given up at the end of the run: the other replica may run the next one at once.
    expect((await job(replicas[1], { now: time.now, holder: 'replica-b' }).runOnce()).skipped).toBe(false);
  });

  it('a holder that dies mid-run keeps the other out until its lease expires; then the other takes over, and the stalled one stops', async () => {
    const { replicas, close } = await open();
    cleanups.push(close);
    await seedOld(replicas[0], 3);
    const time = clock(Date.now());
    // Replica A stalls inside its first tenant's cleanup, lease held, as a process that hung or died would.
    const a = stallingStore(replicas[0].logs);
    const stuck = job(replicas[0], { now: time.now, logs: a.logs, holder: 'replica-a' }).runOnce();
    await a.reached;

    const b = stallingStore(replicas[1].logs);
    const other = job(replicas[1], { now: time.now, logs: b.logs, holder: 'replica-b' });
    expect((await other.runOnce()).skipped).toBe(true);
    time.advance(LEASE_MS - 1);
    expect((await other.runOnce()).skipped).toBe(true);
    expect(await stillStored(replicas[1], T1)).toBe(3);

    // A's lease runs out: B takes over (and is held at its first cleanup while A wakes).
    time.advance(2);
    const takeover = other.runOnce();
    await b.reached;
    // A wakes: the slice it was in finishes, then its lease renewal fails and it stops before the second tenant.
    a.resume();
    const late = await stuck;
    expect(late.skipped).toBe(false);
    expect(late.tenants.map((outcome) => outcome.tenant)).toEqual([T1]);
    b.resume();
    const taken = await takeover;
    expect(taken.tenants.map((outcome) => [outcome.tenant, outcome.deleted])).toEqual([
      [T1, 3 - (late.tenants[0]?.deleted ?? 0)],
      [T2, 3],
    ]);
    // Every event deleted once, by one cleanup or the other.
    expect(late.deleted + taken.deleted).toBe(6);
    expect(await stillStored(replicas[0], T1)).toBe(0);
    expect(await stillStored(replicas[0], T2)).toBe(0);
  });
});

/** A log store whose first cleanup waits until resume(): a replica that hangs mid-run. */
function stallingStore(logs: LogStore) {
  let resume: () => void = () => {};
  let reachedNow: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    reachedNow = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    resume = resolve;
  });
  let first = true;
  const stalling: Pick<LogStore, 'deleteOlderThan'> = {
    deleteOlderThan: async (...args) => {
      if (first) {
        first = false;
        reachedNow();
        await gate;
      }
      return logs.deleteOlderThan(...args);
    },
  };
  return { logs: stalling, reached, resume: () => resume() };
}
