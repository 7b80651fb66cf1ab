import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeEvent } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { KeyRing, rotateJwks } from '../../src/integrity/keyring.js';
import { SEAL_SLICE } from '../../src/integrity/sealer.js';
import { ThreadSealer } from '../../src/integrity/sealer-thread.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../src/integrity/signing-key.js';
import { verifyTenantLog } from '../../src/integrity/verify.js';
import { SqliteIntegrityStore } from '../../src/sqlite/integrity-store.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

const A = tenantOf({ tenant: 'tenant-a' });
const B = tenantOf({ tenant: 'tenant-b' });

/** Writes the key file as make rotate-signing-key does, with a modification time of its own (second `n`). */
function writeKey(file: string, pem: string, n: number) {
  writeFileSync(file, pem);
  utimesSync(file, n, n);
}

describe('sealing on a thread of its own (SQLite)', () => {
  it('seals what this thread committed while this event loop stays idle, and takes a rotated key file at the next round', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'logserver-sealer-thread-')), 'logserver.db');
    const logs = SqliteLogStore.open(path);
    const integrity = SqliteIntegrityStore.open(path);
    const first = generateSigningKeyPem();
    const second = generateSigningKeyPem();
    const keyFile = join(dirname(path), 'integrity-signing-key.pem');
    writeKey(keyFile, first, 1);
    const sealer = new ThreadSealer({ sqlitePath: path, key: { file: keyFile } });
    try {
      // The thread starts at the first round; this one finds nothing to seal.
      expect(await sealer.sealAll()).toEqual({ digests: 0, events: 0, skipped: 0 });
      // More than one slice, in two tenants.
      const events = SEAL_SLICE * 3 + 7;
      await logs.append(
        A,
        Array.from({ length: events }, () => makeEvent(A)),
      );
      await logs.append(B, [makeEvent(B)]);
      const before = performance.eventLoopUtilization();
      const round = await sealer.sealAll();
      const busy = performance.eventLoopUtilization(before).utilization;
      expect(round).toEqual({ digests: 2, events: events + 1, skipped: 0 });
      // The thread did the work: this event loop mostly waited for its answer (sealing here keeps it busy throughout).
      expect(busy).toBeLessThan(0.5);

      // The thread reads the key file again when it changed: after a rotation the next checkpoint is signed by the new key.
      const rotatedAt = new Date();
      writeKey(keyFile, second, 2);
      await logs.append(A, [makeEvent(A)]);
      expect(await sealer.sealAll()).toEqual({ digests: 1, events: 1, skipped: 0 });
      const [, rotated] = await integrity.checkpoints(A, 0, 10);
      expect(rotated?.key_id).toBe(signingKeyFromPem(second).keyId);

      const ring = KeyRing.fromJwks(
        'logserver',
        rotateJwks('logserver', null, signingKeyFromPem(first), signingKeyFromPem(second), rotatedAt, 0),
      );
      expect(await verifyTenantLog(integrity, ring, A)).toMatchObject({ status: 'intact', events_verified: events + 1 });
    } finally {
      await sealer.stop();
      await integrity.close();
      await logs.close();
    }
  });

  it('fails a round whose key is not a key, and seals with the next good one', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'logserver-sealer-thread-')), 'logserver.db');
    const logs = SqliteLogStore.open(path);
    const good = generateSigningKeyPem();
    const keyFile = join(dirname(path), 'integrity-signing-key.pem');
    writeKey(keyFile, 'not a key', 1);
    const sealer = new ThreadSealer({ sqlitePath: path, key: { file: keyFile } });
    try {
      await logs.append(A, [makeEvent(A)]);
      await expect(sealer.sealAll()).rejects.toThrow(/INTEGRITY_SIGNING_KEY is not a PEM private key/);
      writeKey(keyFile, good, 2);
      expect(await sealer.sealAll()).toEqual({ digests: 1, events: 1, skipped: 0 });
    } finally {
      await sealer.stop();
      await logs.close();
    }
  });
});
