import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, postEvents, sampleEvent, startPipeline } from '../support/pipeline.js';
import { type ServiceProcess, startService } from '../support/processes.js';
import { openStream, type StreamClient, streamUrl, until } from '../support/stream-client.js';

describe('SQS pipeline: the live stream across processes', () => {
  let pipeline: Pipeline;
  let replica: ServiceProcess;
  const clients: StreamClient[] = [];
  beforeAll(async () => {
    pipeline = await startPipeline();
    // A second log service on the same file: the stream must work on every replica.
    replica = await startService('log', pipeline.env);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await replica?.stop();
    await pipeline?.close();
  });

  const watch = async (url: string, tenant: string) => {
    const client = await openStream(streamUrl(url), {
      headers: { 'x-auth-sub': `viewer-of-${tenant}`, 'x-auth-tenant': tenant, 'x-auth-role': 'viewer' },
    });
    clients.push(client);
    return client;
  };

  it('shows each tenant the events the worker stored, in the order stored, on every log service', async () => {
    const onLogA = await watch(pipeline.log.url, 'tenant-a');
    const onReplicaA = await watch(replica.url, 'tenant-a');
    const onReplicaB = await watch(replica.url, 'tenant-b');
    const postedA: string[] = [];
    const postedB: string[] = [];
    for (let index = 0; index < 5; index++) {
      postedA.push(...(await postEvents(pipeline.log.url, 'tenant-a', sampleEvent(index))).acknowledged);
      postedB.push(...(await postEvents(replica.url, 'tenant-b', sampleEvent(index))).acknowledged);
    }
    postedA.push(...(await postEvents(replica.url, 'tenant-a', [sampleEvent(10), sampleEvent(11)])).acknowledged);
    // Events only: each stream starts with its head frame (docs/stream.md).
    const ids = (client: StreamClient) => client.frames.filter((frame) => frame.id).map((frame) => `${frame.tenant_id}/${frame.id}`);
    await until(
      'every stream saw its events',
      () => ids(onLogA).length >= 7 && ids(onReplicaA).length >= 7 && ids(onReplicaB).length >= 5,
      20_000,
    );
    // Several receive loops store messages in parallel, so the order is the store's, not the POSTs'.
    expect([...ids(onLogA)].sort()).toEqual([...postedA].sort());
    expect([...ids(onReplicaB)].sort()).toEqual([...postedB].sort());
    expect(ids(onLogA)).toEqual(pipeline.storedOrder('tenant-a'));
    expect(ids(onReplicaA)).toEqual(pipeline.storedOrder('tenant-a'));
    expect(ids(onReplicaB)).toEqual(pipeline.storedOrder('tenant-b'));
  }, 60_000);
});
