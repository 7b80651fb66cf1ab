import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent } from '@logserver/testing/events';
import { insertForgedRow } from '@logserver/testing/forged-row';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CleanupSignature, signCleanup } from '../../src/integrity/cleanup-signature.js';
import { KeyRing } from '../../src/integrity/keyring.js';
import type { IntegrityStore } from '../../src/integrity/port.js';
import { Sealer } from '../../src/integrity/sealer.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../src/integrity/signing-key.js';
import { verifyTenantLog } from '../../src/integrity/verify.js';
import { MongoIntegrityStore } from '../../src/mongo/integrity-store.js';
import { MongoLogStore } from '../../src/mongo/log-store.js';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import type { LogStore } from '../../src/store/port.js';
import { type TenantId, tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
const key = signingKeyFromPem(generateSigningKeyPem());
const ring = KeyRing.single('logserver', key.publicKeyPem);

/** What an attacker with the database does, written once per technology. */
interface Tamper {
  change(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Swaps two events' places in commit order. */
  swap(first: string, second: string): Promise<void>;
  /** Places a forged event right after `after` in commit order. */
  insertAfter(after: string, forged: LogEvent): Promise<void>;
  /** Deletes the event and writes a cleanup record and tombstone for it, as if a cleanup had. */
  forgeCleanup(event: LogEvent, record: { before: string | null; auditEventId: string | null }): Promise<void>;
  /** Names an extra deleted event in an existing cleanup's tombstones. */
  attachToCleanup(event: LogEvent, cleanupId: number): Promise<void>;
  dropNewestCheckpoint(): Promise<void>;
  editCheckpointRoot(size: number): Promise<void>;
  close(): Promise<void>;
}

interface Fixture {
  logs: LogStore;
  integrity: IntegrityStore;
  tamper: Tamper;
  close(): Promise<void>;
}

async function sqliteFixture(): Promise<Fixture> {
  const path = join(mkdtempSync(join(tmpdir(), 'logserver-tree-tamper-')), 'logserver.db');
  const logs = SqliteLogStore.open(path);
  const integrity = SqliteIntegrityStore.open(path);
  const raw = new Database(path);
  const seqOf = (id: string) => (raw.prepare('SELECT seq FROM logs WHERE id = ?').get(id) as { seq: number }).seq;
  const tamper: Tamper = {
    change: async (id) => void raw.prepare("UPDATE logs SET resource_id = 'someone-else' WHERE id = ?").run(id),
    remove: async (id) => void raw.prepare('DELETE FROM logs WHERE id = ?').run(id),
    swap: async (first, second) => {
      const [one, two] = [seqOf(first), seqOf(second)];
      raw.transaction(() => {
        raw.prepare('UPDATE logs SET seq = -1 WHERE seq = ?').run(one);
        raw.prepare('UPDATE logs SET seq = ? WHERE seq = ?').run(one, two);
        raw.prepare('UPDATE logs SET seq = ? WHERE seq = -1').run(two);
      })();
    },
    insertAfter: async (after, forged) => {
      raw.prepare('UPDATE logs SET seq = seq + 1000000 WHERE seq > ?').run(seqOf(after));
      insertForgedRow(raw, seqOf(after) + 1, forged);
      // The checkpoints' positions move with the rows, as a careful attacker would make them.
      raw.prepare('UPDATE integrity_checkpoints SET last_position = last_position + 1000000 WHERE last_position > ?').run(seqOf(after));
      for (const row of raw.prepare('SELECT tenant_id, tree_size, checkpoint, last_position FROM integrity_checkpoints').all() as {
        tenant_id: string;
        tree_size: number;
        checkpoint: string;
        last_position: number;
      }[]) {
        const checkpoint = JSON.parse(row.checkpoint);
        raw
          .prepare('UPDATE integrity_checkpoints SET checkpoint = ? WHERE tenant_id = ? AND tree_size = ?')
          .run(JSON.stringify({ ...checkpoint, last_position: String(row.last_position) }), row.tenant_id, row.tree_size);
      }
    },
    forgeCleanup: async (event, record) => {
      const { cleanup_id } = raw
        .prepare(
          "INSERT INTO integrity_cleanups (tenant_id, deleted_at, before, deleted_count, audit_event_id) VALUES (?, '2026-01-01T00:00:00.000Z', ?, 1, ?) RETURNING cleanup_id",
        )
        .get(event.tenant_id, record.before, record.auditEventId) as { cleanup_id: number };
      raw
        .prepare('INSERT INTO integrity_deleted (tenant_id, event_id, cleanup_id, event_hash, ts) VALUES (?, ?, ?, ?, ?)')
        .run(event.tenant_id, event.id, cleanup_id, event.hash, event.timestamp);
      raw.prepare('DELETE FROM logs WHERE id = ?').run(event.id);
    },
    attachToCleanup: async (event, cleanupId) => {
      raw
        .prepare('INSERT INTO integrity_deleted (tenant_id, event_id, cleanup_id, event_hash, ts) VALUES (?, ?, ?, ?, ?)')
        .run(event.tenant_id, event.id, cleanupId, event.hash, event.timestamp);
      raw.prepare('DELETE FROM logs WHERE id = ?').run(event.id);
    },
    dropNewestCheckpoint: async () => {
      raw
        .prepare(
          'DELETE FROM integrity_checkpoints WHERE tenant_id = ? AND tree_size = (SELECT max(tree_size) FROM integrity_checkpoints WHERE tenant_id = ?)',
        )
        .run(A, A);
    },
    editCheckpointRoot: async (size) => {
      const row = raw.prepare('SELECT checkpoint FROM integrity_checkpoints WHERE tenant_id = ? AND tree_size = ?').get(A, size) as {
        checkpoint: string;
      };
      const checkpoint = JSON.parse(row.checkpoint);
      raw
        .prepare('UPDATE integrity_checkpoints SET checkpoint = ? WHERE tenant_id = ? AND tree_size = ?')
        .run(JSON.stringify({ ...checkpoint, root_hash: '00'.repeat(32) }), A, size);
    },
    close: async () => void raw.close(),
  };
  return {
    logs,
    integrity,
    tamper,
    close: async () => {
      await tamper.close();
      await integrity.close();
      await logs.close();
    },
  };
}

async function mongoFixture(): Promise<Fixture> {
  const db = new MingoMongoDatabase();
  const logs = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 1_000 });
  const integrity = await MongoIntegrityStore.open(db);
  const collection = db.collection<{ id: string; position?: number } & Record<string, unknown>>('logs');
  let forged = 0;
  const positionOf = async (id: string) => ((await collection.find({ id: { $eq: id } }).toArray())[0]?.position as number) ?? 0;
  const tamper: Tamper = {
    change: async (id) => void (await collection.updateOne({ id: { $eq: id } }, { $set: { resource_id: 'someone-else' } })),
    remove: async (id) => void (await collection.deleteMany({ id: { $eq: id } })),
    swap: async (first, second) => {
      const [one, two] = [await positionOf(first), await positionOf(second)];
      await collection.updateOne({ id: { $eq: first } }, { $set: { position: two } });
      await collection.updateOne({ id: { $eq: second } }, { $set: { position: one } });
    },
    insertAfter: async (after, forged) => {
      await collection.insertMany(
        [
          {
            ...forged,
            timestamp: new Date(forged.timestamp),
            received_at: new Date(forged.received_at),
            search_text: [],
            position: (await positionOf(after)) + 0.5,
          },
        ],
        { ordered: false },
      );
    },
    forgeCleanup: async (event, record) => {
      forged++;
      await db.collection<{ _id: number } & Record<string, unknown>>('integrity_cleanups').insertOne({
        _id: 9_000 + forged,
        tenant_id: event.tenant_id,
        deleted_at: '2026-01-01T00:00:00.000Z',
        before: record.before,
        deleted_count: 1,
        audit_event_id: record.auditEventId,
      });
      await db.collection('integrity_deleted').insertOne({
        tenant_id: event.tenant_id,
        event_id: event.id,
        cleanup_id: 9_000 + forged,
        event_hash: event.hash,
        ts: event.timestamp,
      });
      await collection.deleteMany({ id: { $eq: event.id } });
    },
    attachToCleanup: async (event, cleanupId) => {
      await db
        .collection('integrity_deleted')
        .insertOne({ tenant_id: event.tenant_id, event_id: event.id, cleanup_id: cleanupId, event_hash: event.hash, ts: event.timestamp });
      await collection.deleteMany({ id: { $eq: event.id } });
    },
    dropNewestCheckpoint: async () => {
      const checkpoints = db.collection<{ tree_size: number }>('integrity_checkpoints');
      const [newest] = await checkpoints.find({ tenant_id: { $eq: A } }, { sort: { tree_size: -1 }, limit: 1 }).toArray();
      await checkpoints.deleteMany({ tenant_id: { $eq: A }, tree_size: { $eq: newest?.tree_size } });
    },
    editCheckpointRoot: async (size) => {
      const checkpoints = db.collection<{ checkpoint: string }>('integrity_checkpoints');
      const [row] = await checkpoints.find({ tenant_id: { $eq: A }, tree_size: { $eq: size } }).toArray();
      const checkpoint = JSON.parse(row?.checkpoint as string);
      await checkpoints.updateOne(
        { tenant_id: { $eq: A }, tree_size: { $eq: size } },
        { $set: { checkpoint: JSON.stringify({ ...checkpoint, root_hash: '00'.repeat(32) }) } },
      );
    },
    close: async () => {},
  };
  return { logs, integrity, tamper, close: async () => logs.close() };
}

for (const [name, open] of [
  ['SQLite', sqliteFixture],
  ['MongoDB (mingo double)', mongoFixture],
] as const) {
  describe(`verify names what was done to the tree's data on ${name}`, () => {
    let fixture: Fixture;
    let eventsA: LogEvent[];
    const at = (index: number) => eventsA[index] as LogEvent;
    const verify = (options = {}) => verifyTenantLog(fixture.integrity, ring, A, options);
    const seal = () => new Sealer({ store: fixture.integrity, key, maxEventsPerDigest: 20 }).sealAll();

    /**
     * Cleans up the way the cleanup route does: the delete with its record, then the audit event as a
     * leaf; signed as a server holding the key signs it (`signed`), or not, as servers before did.
     */
    const cleanup = async (tenant: TenantId, before: string, signed = false) => {
      const auditEventId = makeEvent(tenant).id;
      const deleted = await fixture.logs.deleteOlderThan(tenant, before, { auditEventId });
      const timestamp = new Date().toISOString();
      const signature = signed
        ? { signature: signCleanup(key, { tenant, id: auditEventId, timestamp, before, deleted_count: deleted, by: 'request' }) }
        : {};
      const audit = makeEvent(tenant, {
        id: auditEventId,
        action: 'logs.cleanup',
        resource_type: 'logs',
        timestamp,
        metadata: { parameters: { before }, before, deleted_count: deleted, ...signature },
      });
      await fixture.logs.append(tenant, [audit]);
      return { deleted, audit };
    };

    beforeEach(async () => {
      fixture = await open();
      eventsA = [];
      for (let round = 0; round < 6; round++) {
        const batch = Array.from({ length: 10 }, () => makeEvent(A));
        eventsA.push(...batch);
        await fixture.logs.append(A, batch);
        await fixture.logs.append(
          B,
          Array.from({ length: 5 }, () => makeEvent(B)),
        );
      }
      await seal();
    });
    afterEach(async () => {
      await fixture.close();
    });

    it('reports an untouched tree as intact', async () => {
      expect(await verify()).toMatchObject({
        status: 'intact',
        digests_checked: 0,
        checkpoints_checked: 3,
        tree_size: 60,
        events_verified: 60,
        tree: { intact: true, first_break: null },
      });
    });

    it('names a changed event with its leaf', async () => {
      await fixture.tamper.change(at(25).id);
      const report = await verify();
      expect(report).toMatchObject({ status: 'tampered', first_problem: { kind: 'changed', event_id: at(25).id, leaf_index: 25 } });
      expect(report.problems).toEqual({ changed: 1, removed: 0, inserted: 0, reordered: 0 });
    });

    it('names a row deleted outside any cleanup', async () => {
      await fixture.tamper.remove(at(41).id);
      const report = await verify();
      expect(report.first_problem).toMatchObject({ kind: 'removed', event_id: at(41).id, leaf_index: 41 });
      expect(report.problems).toEqual({ changed: 0, removed: 1, inserted: 0, reordered: 0 });
    });

    it('names an event slipped into a sealed batch', async () => {
      const forged = makeEvent(A, { action: 'backdated' });
      await fixture.tamper.insertAfter(at(29).id, forged);
      const report = await verify();
      expect(report.problems).toEqual({ changed: 0, removed: 0, inserted: 1, reordered: 0 });
      expect(report.first_problem).toMatchObject({ kind: 'inserted', event_id: forged.id });
      expect((await verifyTenantLog(fixture.integrity, ring, B)).status).toBe('intact');
    });

    it('names two events whose places in commit order were swapped, in a batch and across batches', async () => {
      await fixture.tamper.swap(at(5).id, at(12).id);
      const inBatch = await verify();
      expect(inBatch.problems).toEqual({ changed: 0, removed: 0, inserted: 0, reordered: 2 });
      await fixture.tamper.swap(at(2).id, at(45).id);
      const across = await verify();
      expect(across.status).toBe('tampered');
      expect(across.problems.reordered).toBe(4);
      expect(across.problems.removed + across.problems.inserted).toBe(0);
    });

    it('keeps inclusion of the rest and reports a real cleanup as cleanup, its audit event a leaf', async () => {
      const sorted = [...eventsA].sort((x, y) => x.timestamp.localeCompare(y.timestamp));
      const before = (sorted[30] as LogEvent).timestamp;
      const { deleted, audit } = await cleanup(A, before);
      expect(deleted).toBe(30);
      await seal();
      const report = await verify();
      expect(report).toMatchObject({ status: 'intact', deleted_by_cleanup: 30, tree_size: 61, events_verified: 31, cleanup_problems: [] });
      expect(report.cleanups).toEqual([expect.objectContaining({ before, deleted_count: 30, audit_event_id: audit.id })]);
    });

    it('names a row deleted beside a real cleanup, one attached to its record, and one outside its time range', async () => {
      const sorted = [...eventsA].sort((x, y) => x.timestamp.localeCompare(y.timestamp));
      const before = (sorted[20] as LogEvent).timestamp;
      await cleanup(A, before);
      await seal();
      const cleanupId = (await fixture.integrity.cleanups(A))[0]?.record.cleanup_id as number;
      await fixture.tamper.attachToCleanup(sorted[50] as LogEvent, cleanupId);
      const report = await verify();
      expect(report.status).toBe('tampered');
      // The record now names 21 tombstones for 20 deleted: every one of them is suspect, and so reported.
      expect(report.cleanup_problems).toEqual([
        { cleanup_id: cleanupId, reason: 'it says it deleted 20 events, but 21 tombstones name it' },
      ]);
      expect(report.problems.removed).toBe(21);
    });

    it('names a forged cleanup record: no audit event, a writer-made audit event, a time range that does not cover it', async () => {
      await fixture.tamper.forgeCleanup(at(7), { before: '2999-01-01T00:00:00.000Z', auditEventId: 'no-such-event' });
      let report = await verify();
      expect(report.first_problem).toMatchObject({ kind: 'removed', event_id: at(7).id, leaf_index: 7 });
      expect(report.first_problem?.detail).toContain('its audit event no-such-event is not stored');

      // A writer can store an event; one that is not a logs.cleanup record with the same parameters does not do.
      const fake = makeEvent(A, { action: 'update', metadata: { before: '2999-01-01T00:00:00.000Z', deleted_count: 1 } });
      await fixture.logs.append(A, [fake]);
      await fixture.tamper.forgeCleanup(at(8), { before: '2999-01-01T00:00:00.000Z', auditEventId: fake.id });
      report = await verify();
      expect(report.problems.removed).toBe(2);
      expect(report.problem_samples.find((problem) => problem.event_id === at(8).id)?.detail).toContain('is not a logs.cleanup record');

      await fixture.tamper.forgeCleanup(at(9), { before: '2000-01-01T00:00:00.000Z', auditEventId: null });
      report = await verify();
      expect(report.problem_samples.find((problem) => problem.event_id === at(9).id)?.detail).toContain('deleted events before 2000-01-01');
    });

    it('holds cleanups to the server’s signature once it signs them: unsigned after a signed one, a made-up signature, a foreign key', async () => {
      const sorted = [...eventsA].sort((x, y) => x.timestamp.localeCompare(y.timestamp));
      // An older server's cleanup (unsigned), then this server's (signed): both are cleanups.
      await cleanup(A, (sorted[5] as LogEvent).timestamp);
      await cleanup(A, (sorted[10] as LogEvent).timestamp, true);
      await seal();
      expect(await verify()).toMatchObject({ status: 'intact', deleted_by_cleanup: 10, cleanup_problems: [] });

      // A writer with the database but not the signing key writes the audit event and the record itself.
      const FAR = '2999-01-01T00:00:00.000Z';
      const forge = async (victim: LogEvent, sign?: (statement: Parameters<typeof signCleanup>[1]) => CleanupSignature) => {
        const id = makeEvent(A).id;
        const timestamp = new Date().toISOString();
        const signature = sign ? { signature: sign({ tenant: A, id, timestamp, before: FAR, deleted_count: 1, by: 'request' }) } : {};
        const audit = makeEvent(A, {
          id,
          action: 'logs.cleanup',
          resource_type: 'logs',
          timestamp,
          metadata: { before: FAR, deleted_count: 1, ...signature },
        });
        await fixture.logs.append(A, [audit]);
        await fixture.tamper.forgeCleanup(victim, { before: FAR, auditEventId: id });
      };
      const [unsigned, madeUp, foreign] = [sorted[40], sorted[41], sorted[42]] as [LogEvent, LogEvent, LogEvent];
      await forge(unsigned);
      await forge(madeUp, () => ({ kid: key.keyId, sig: Buffer.alloc(64, 7).toString('base64') }));
      const stranger = signingKeyFromPem(generateSigningKeyPem());
      await forge(foreign, (statement) => signCleanup(stranger, statement));
      await seal();

      const report = await verify();
      expect(report.status).toBe('tampered');
      expect(report.problems).toEqual({ changed: 0, removed: 3, inserted: 0, reordered: 0 });
      const detail = (event: LogEvent) => report.problem_samples.find((problem) => problem.event_id === event.id)?.detail;
      expect(detail(unsigned)).toContain('is not signed, but the server has signed its request cleanups since leaf');
      expect(detail(madeUp)).toContain('its signature does not verify');
      expect(detail(foreign)).toContain(`its signature names key ${stranger.keyId}, which is not in the key ring`);
      expect(report.deleted_by_cleanup).toBe(10);
    });

    it('names a checkpoint whose stored root was edited', async () => {
      await fixture.tamper.editCheckpointRoot(40);
      expect((await verify()).tree.first_break).toMatchObject({
        tree_size: 40,
        reason: 'its note does not say the size, root or time it is stored with',
      });
    });

    it('names a rollback of the newest checkpoint against one the auditor kept', async () => {
      const newest = (await fixture.integrity.latestCheckpoint(A)) as { tree_size: number; root_hash: string };
      expect((await verify({ trusted: { size: newest.tree_size, root: newest.root_hash } })).status).toBe('intact');
      await fixture.tamper.dropNewestCheckpoint();
      const report = await verify({ trusted: { size: newest.tree_size, root: newest.root_hash } });
      expect(report.status).toBe('tampered');
      expect(report.tree.first_break?.reason).toContain('rolled back: a checkpoint of size 60 was seen');
    });

    it('names a split view: the stored tree does not give the root of a checkpoint seen at that size', async () => {
      const report = await verify({ trusted: { size: 40, root: 'ab'.repeat(32) } });
      expect(report.status).toBe('tampered');
      expect(report.tree.first_break).toMatchObject({ tree_size: 40 });
      expect(report.tree.first_break?.reason).toContain('split view');
    });
  });
}
