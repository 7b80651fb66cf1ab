import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent } from '@logserver/testing/events';
import { insertForgedRow } from '@logserver/testing/forged-row';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/integrity/keyring.js';
import { Sealer } from '../../src/integrity/sealer.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../src/integrity/signing-key.js';
import { verifyTenantLog } from '../../src/integrity/verify.js';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });
const key = signingKeyFromPem(generateSigningKeyPem());
const publicKey = KeyRing.single('logserver', key.publicKeyPem);

/** Tampering as someone with the SQLite file would do it: SQL on a connection of their own. */
describe('verify names what was done to the SQLite file behind the server’s back', () => {
  let path: string;
  let logs: SqliteLogStore;
  let integrity: SqliteIntegrityStore;
  let raw: Database.Database;
  let eventsA: LogEvent[];

  beforeEach(async () => {
    path = join(mkdtempSync(join(tmpdir(), 'logserver-tamper-')), 'logserver.db');
    logs = SqliteLogStore.open(path);
    integrity = SqliteIntegrityStore.open(path);
    eventsA = [];
    // Interleaved tenants, three digests of 20 for A.
    for (let round = 0; round < 6; round++) {
      const batch = Array.from({ length: 10 }, () => makeEvent(A));
      eventsA.push(...batch);
      await logs.append(A, batch);
      await logs.append(
        B,
        Array.from({ length: 5 }, () => makeEvent(B)),
      );
    }
    await new Sealer({ store: integrity, key, maxEventsPerDigest: 20, format: 'digest-v1' }).sealAll();
    raw = new Database(path);
  });

  afterEach(async () => {
    raw.close();
    await integrity.close();
    await logs.close();
  });

  const seqOf = (event: LogEvent) => (raw.prepare('SELECT seq FROM logs WHERE id = ?').get(event.id) as { seq: number }).seq;
  /** Swaps two rows' contents (everything but seq), as a reordering would. */
  const swapRows = (first: LogEvent, second: LogEvent) => {
    const [one, two] = [seqOf(first), seqOf(second)];
    raw.transaction(() => {
      raw.prepare('UPDATE logs SET seq = -1 WHERE seq = ?').run(one);
      raw.prepare('UPDATE logs SET seq = ? WHERE seq = ?').run(one, two);
      raw.prepare('UPDATE logs SET seq = ? WHERE seq = -1').run(two);
    })();
  };
  const verify = () => verifyTenantLog(integrity, publicKey, A);
  const at = (index: number) => eventsA[index] as LogEvent;

  it('reports an untouched log as intact, with its counts', async () => {
    expect(await verify()).toMatchObject({
      status: 'intact',
      digests_checked: 3,
      events_sealed: 60,
      events_verified: 60,
      events_unsealed: 0,
      first_problem: null,
      chain: { intact: true, first_break: null },
    });
  });

  it('names an event with one field changed', async () => {
    raw.prepare("UPDATE logs SET action = 'harmless' WHERE id = ?").run(at(25).id);
    const report = await verify();
    expect(report.status).toBe('tampered');
    expect(report.first_problem).toMatchObject({ kind: 'changed', event_id: at(25).id, digest_seq: 2 });
    expect(report.problems).toEqual({ changed: 1, removed: 0, inserted: 0, reordered: 0 });
    expect(report.chain.intact).toBe(true);
  });

  it('names a change even when the stored hash column was rewritten to match', async () => {
    const forged = { ...at(3), severity: 'INFO' as const, action: 'nothing-to-see' };
    const { eventHash } = await import('../../src/integrity/event-hash.js');
    raw
      .prepare('UPDATE logs SET action = ?, severity = ?, hash = ? WHERE id = ?')
      .run(forged.action, forged.severity, eventHash(forged), at(3).id);
    expect((await verify()).first_problem).toMatchObject({ kind: 'changed', event_id: at(3).id, digest_seq: 1 });
  });

  it('names a deleted event', async () => {
    raw.prepare('DELETE FROM logs WHERE id = ?').run(at(41).id);
    const report = await verify();
    expect(report.first_problem).toMatchObject({ kind: 'removed', event_id: at(41).id, digest_seq: 3 });
    expect(report.problems).toEqual({ changed: 0, removed: 1, inserted: 0, reordered: 0 });
    expect(report.deleted_by_cleanup).toBe(0);
  });

  it('names an event inserted into a sealed range (a seq freed by another tenant’s cleanup)', async () => {
    await logs.deleteOlderThan(B, null);
    const [before, after] = [seqOf(at(29)), seqOf(at(30))];
    expect(after - before).toBeGreaterThan(1);
    const forged = makeEvent(A, { action: 'backdated', timestamp: at(29).timestamp });
    insertForgedRow(raw, before + 1, forged);
    const report = await verify();
    expect(report.first_problem).toMatchObject({ kind: 'inserted', event_id: forged.id, digest_seq: 2 });
    expect(report.problems).toEqual({ changed: 0, removed: 0, inserted: 1, reordered: 0 });
    expect((await verifyTenantLog(integrity, publicKey, B)).status).toBe('intact');
  });

  it('names two events whose rows were swapped', async () => {
    swapRows(at(5), at(12));
    const report = await verify();
    expect(report.problems).toEqual({ changed: 0, removed: 0, inserted: 0, reordered: 2 });
    expect(report.problem_samples.map((problem) => problem.event_id).sort()).toEqual([at(5).id, at(12).id].sort());
    expect(report.first_problem?.kind).toBe('reordered');
  });

  it('names an event moved into another digest’s range', async () => {
    swapRows(at(2), at(45));
    const report = await verify();
    expect(report.problems.reordered).toBe(2);
    expect(report.problems.removed + report.problems.inserted).toBe(0);
    expect(report.first_problem).toMatchObject({ kind: 'reordered', event_id: at(2).id, digest_seq: 1 });
  });

  it('names the first broken link when a digest is edited or removed', async () => {
    const digest = JSON.parse(
      (raw.prepare('SELECT digest FROM integrity_digests WHERE tenant_id = ? AND seq = 2').get(A) as { digest: string }).digest,
    );
    raw.prepare('UPDATE integrity_digests SET digest = ? WHERE tenant_id = ? AND seq = 2').run(JSON.stringify({ ...digest, count: 19 }), A);
    let report = await verify();
    expect(report.chain.first_break).toEqual({ digest_seq: 2, reason: 'its hash does not match its contents' });
    raw.prepare('DELETE FROM integrity_digests WHERE tenant_id = ? AND seq = 2').run(A);
    report = await verify();
    expect(report.status).toBe('tampered');
    expect(report.chain.first_break).toEqual({ digest_seq: 3, reason: 'digest 2 is missing before digest 3' });
  });

  it('names a digest whose sealed event list was rewritten', async () => {
    raw
      .prepare("UPDATE integrity_digests SET leaf_ids = replace(leaf_ids, ?, 'someone-else') WHERE tenant_id = ? AND seq = 1")
      .run(at(0).id, A);
    expect((await verify()).chain.first_break).toEqual({ digest_seq: 1, reason: 'its sealed event list has the wrong ends' });
  });

  it('reports events deleted by a cleanup as cleanup, with its audit event, and still catches tampering beside it', async () => {
    const sorted = [...eventsA].sort((x, y) => x.timestamp.localeCompare(y.timestamp));
    const cutoff = (sorted[20] as LogEvent).timestamp;
    const deleted = await logs.deleteOlderThan(A, cutoff, { auditEventId: 'audit-cleanup-1' });
    const survivor = sorted[40] as LogEvent;
    raw.prepare('DELETE FROM logs WHERE id = ?').run(survivor.id);
    const report = await verify();
    expect(report.deleted_by_cleanup).toBe(deleted);
    expect(report.cleanups).toEqual([
      expect.objectContaining({ before: cutoff, deleted_count: deleted, audit_event_id: 'audit-cleanup-1' }),
    ]);
    expect(report.problems).toEqual({ changed: 0, removed: 1, inserted: 0, reordered: 0 });
    expect(report.first_problem).toMatchObject({ kind: 'removed', event_id: survivor.id });
  });

  it('checks events not sealed yet against their stored hash', async () => {
    const late = makeEvent(A);
    await logs.append(A, [late]);
    expect(await verify()).toMatchObject({ status: 'intact', events_unsealed: 1 });
    raw.prepare("UPDATE logs SET resource_id = 'other' WHERE id = ?").run(late.id);
    expect((await verify()).first_problem).toMatchObject({ kind: 'changed', event_id: late.id, digest_seq: null });
  });

  it('verifies only the digests sealed in from/to', async () => {
    raw.prepare("UPDATE logs SET action = 'x' WHERE id = ?").run(at(50).id);
    const digests = await integrity.digests(A, 0, 10);
    const third = digests[2]?.sealed_at as string;
    const early = await verifyTenantLog(integrity, publicKey, A, { to: third });
    // All three digests were sealed in the same round; `to` at the third's time excludes any sealed at that instant or later.
    expect(early.status).toBe('intact');
    expect(early.events_unsealed).toBe(0);
    expect((await verifyTenantLog(integrity, publicKey, A, { from: third })).first_problem).toMatchObject({ event_id: at(50).id });
  });
});
