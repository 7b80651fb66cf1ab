import { gatewayIdentity } from '@logserver/shared/auth/request-auth';
import { createServer } from '@logserver/shared/http/server';
import { InProcessLogQueue } from '@logserver/shared/in-process/log-queue';
import { MongoChangeStreamFeed } from '@logserver/shared/mongo/change-stream-feed';
import { MongoCommitFeed } from '@logserver/shared/mongo/commit-feed';
import { MongoIntegrityStore } from '@logserver/shared/mongo/integrity-store';
import { MongoLogStore } from '@logserver/shared/mongo/log-store';
import { MongoStreamLog } from '@logserver/shared/mongo/stream-log';
import { createStoreHandler } from '@logserver/shared/pipeline/store-handler';
import { createCursorCodec } from '@logserver/shared/stream/cursor';
import { MingoMongoDatabase } from '@logserver/testing/mingo-mongo-database';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { headCursor, openStream, type StreamClient, streamUrl } from '../../../test/support/stream-client.js';
import { buildLogApp } from '../src/app.js';

const silent = { info: () => {}, warn: () => {} };
const gateway = (role: string) => ({ 'x-auth-tenant': 'acme', 'x-auth-sub': `${role}-1`, 'x-auth-role': role });

/** Every replica seals and opens cursors with the same key, as main.ts derives it from one secret. */
const cursors = createCursorCodec();

/**
 * One log-service replica as main.ts builds it on MongoDB: the stream reads positioned events,
 * woken by the change feed; the write-through queue announces nothing itself.
 */
async function startReplica(db: MingoMongoDatabase): Promise<{ app: FastifyInstance; url: string }> {
  const app = createServer({ logLevel: 'silent' });
  const store = await MongoLogStore.open(db, { queryTimeoutMs: 5_000, pingTimeoutMs: 500 });
  const integrity = await MongoIntegrityStore.open(db);
  const wakeUp = new MongoChangeStreamFeed(db, { log: silent, pollIntervalMs: 20, lookbackMs: 30_000 });
  const feed = new MongoCommitFeed(db, integrity, { pollMs: 1_000, wakeUp });
  await feed.start();
  const queue = new InProcessLogQueue();
  await queue.consume(createStoreHandler(store).handle);
  const streamLog = new MongoStreamLog(db, integrity);
  await app.register(buildLogApp({ store, queue, feed, streamLog, cursors, identity: gatewayIdentity() }, { adminTenant: 'system' }));
  app.addHook('onClose', async () => {
    await queue.close();
    await feed.close();
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}

describe('two log-service replicas on one MongoDB', () => {
  const running: FastifyInstance[] = [];
  const clients: StreamClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const app of running.splice(0)) await app.close();
  });

  it('gives a client of an empty store a head cursor that resumes, on the other replica, from the first event stored', async () => {
    const db = new MingoMongoDatabase({ replicaSet: true });
    const [one, two] = [await startReplica(db), await startReplica(db)];
    running.push(one.app, two.app);
    const first = await openStream(streamUrl(two.url), { headers: gateway('viewer') });
    clients.push(first);
    const head = await headCursor(first);
    await first.close();
    expect(first.frames).toEqual([{ type: 'live', cursor: head }]);
    const posted: string[] = [];
    for (let n = 0; n < 3; n++) {
      const response = await fetch(`${one.url}/api/v1/logs`, {
        method: 'POST',
        headers: { ...gateway('writer'), 'content-type': 'application/json' },
        body: JSON.stringify({ action: `away.${n}`, resource_type: 'session' }),
      });
      expect(response.status).toBe(200);
      posted.push(((await response.json()) as { data: { id: string } }).data.id);
    }
    const resumed = await openStream(streamUrl(one.url, { after: head }), { headers: gateway('viewer') });
    clients.push(resumed);
    await expect.poll(() => resumed.frames.some((frame) => frame.type === 'live'), { timeout: 5_000, interval: 20 }).toBe(true);
    expect(resumed.frames.filter((frame) => frame.id).map((frame) => frame.id)).toEqual(posted);
  });

  for (const replicaSet of [true, false]) {
    it(`stream an event posted to one replica to a client of the other (${replicaSet ? 'change stream' : 'standalone: polling'})`, async () => {
      const db = new MingoMongoDatabase({ replicaSet });
      const [one, two] = [await startReplica(db), await startReplica(db)];
      running.push(one.app, two.app);

      const client = await openStream(streamUrl(two.url), { headers: gateway('viewer') });
      clients.push(client);
      // Subscribed once the head frame has come (the head is a store read on MongoDB).
      await headCursor(client);

      const response = await fetch(`${one.url}/api/v1/logs`, {
        method: 'POST',
        headers: { ...gateway('writer'), 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'login', resource_type: 'session', severity: 'WARNING' }),
      });
      expect(response.status).toBe(200);
      const created = ((await response.json()) as { data: { id: string } }).data;

      await expect.poll(() => client.frames.length > 1, { timeout: 5_000, interval: 20 }).toBe(true);
      expect(client.frames).toEqual([
        { type: 'live', cursor: expect.any(String) },
        { ...created, cursor: expect.any(String) },
      ]);
    });
  }
});
