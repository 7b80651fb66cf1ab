import { KeyRing } from '@logserver/shared/integrity/keyring';
import { generateSigningKeyPem, signingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { type VerifyReport, verifyTenantLog } from '@logserver/shared/integrity/verify';
import { SqliteIntegrityStore } from '@logserver/shared/sqlite/integrity-store';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, postEvents, sampleEvent, startPipeline } from '../support/pipeline.js';
import { type ServiceProcess, startService } from '../support/processes.js';

describe('SQS pipeline: two log-worker replicas seal the same SQLite file', () => {
  const pem = generateSigningKeyPem();
  let pipeline: Pipeline;
  let second: ServiceProcess;
  beforeAll(async () => {
    pipeline = await startPipeline({ worker: false, env: { INTEGRITY_PUBLIC_KEY: signingKeyFromPem(pem).publicKeyPem } });
    const sealing = { INTEGRITY_SIGNING_KEY: pem, SEAL_INTERVAL: '0.2' };
    await pipeline.startWorker(sealing);
    second = await startService('log-worker', { ...pipeline.env, ...sealing });
  }, 60_000);
  afterAll(async () => {
    await second?.stop('SIGTERM');
    await pipeline?.close();
  });

  it('seals every acknowledged event once, in one chain that verifies', async () => {
    let acknowledged = 0;
    for (let batch = 0; batch < 10; batch++) {
      const posted = await postEvents(
        pipeline.log.url,
        'tenant-s',
        Array.from({ length: 20 }, (_, index) => sampleEvent(batch * 20 + index)),
      );
      acknowledged += posted.acknowledged.length;
    }
    expect(acknowledged).toBe(200);
    const store = SqliteIntegrityStore.open(pipeline.sqlitePath);
    const key = KeyRing.single('logserver', signingKeyFromPem(pem).publicKeyPem);
    let report: VerifyReport | null = null;
    await expect
      .poll(
        async () => {
          report = await verifyTenantLog(store, key, tenantOf({ tenant: 'tenant-s' }));
          return report.events_verified === 200;
        },
        { timeout: 30_000, interval: 200 },
      )
      .toBe(true);
    expect(report).toMatchObject({
      status: 'intact',
      events_sealed: 200,
      events_verified: 200,
      events_unsealed: 0,
      chain: { intact: true },
      tree: { intact: true },
      tree_size: 200,
    });
    const checkpoints = await store.checkpoints(tenantOf({ tenant: 'tenant-s' }), 0, 1000);
    expect(checkpoints.map((checkpoint) => checkpoint.tree_size - checkpoint.count)).toEqual([
      0,
      ...checkpoints.slice(0, -1).map((checkpoint) => checkpoint.tree_size),
    ]);
    await store.close();
    // The log service serves verify from the same file with only the public key.
    const response = await fetch(`${pipeline.log.url}/api/v1/logs/verify`, {
      headers: { 'x-auth-sub': 'auditor-1', 'x-auth-tenant': 'tenant-s', 'x-auth-role': 'auditor' },
    });
    expect(((await response.json()) as { data: VerifyReport }).data).toMatchObject({ status: 'intact', events_verified: 200 });
  }, 60_000);
});
