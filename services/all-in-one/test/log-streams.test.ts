// Log streams end to end (docs/streams.md): the all-in-one server on SQLite delivers one tenant's
// events to loopback receivers shaped like each destination kind (an HTTPS Standard Webhooks
// endpoint on a certificate made here, Splunk HEC, Datadog logs intake, and fauxqs's S3), while
// they are down, fail 30 % of requests and lose answers. STREAM_FULL_SCALE=1 runs the 50 000-event
// case of the issue; the default is a few hundred events, which shows the same properties.
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { seededRandom } from '@logserver/testing/events';
import { buildApp } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { clientEvent, postBulk } from '../../../test/support/log-seed.js';
import { deliveryProblems, loopbackCertificate, Receiver } from '../../../test/support/stream-receivers.js';

const FULL = process.env.STREAM_FULL_SCALE === '1';
const EVENTS = FULL ? 50_000 : 600;
const TENANT = 'acme';
const SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const HEC_TOKEN = 'hec-token-0123456789';
const DD_KEY = 'dd-api-key-0123456789';
const S3_SECRET = 'fauxqs-secret-key-that-is-long';

let server: RunningServer;
let admin: string;
let writer: string;
let tls: { key: string; cert: string };
let webhook: Receiver;
let hec: Receiver;
let datadog: Receiver;
let s3: { url: string; mode: 'up' | 'down' | 'flaky'; puts: number; failed: number; unsigned: string[]; close: () => Promise<void> };
let random = 1;
const seeded = () => {
  random = (random * 48271) % 2147483647;
  return random / 2147483647;
};

/** fauxqs's S3, in this process, behind a switch that resets connections or fails 30 % of PUTs (half after storing the object). */
async function startS3(): Promise<typeof s3> {
  const app = buildApp({ logger: false });
  const state = { mode: 'up' as 'up' | 'down' | 'flaky', puts: 0, failed: 0, unsigned: [] as string[] };
  // Seeded, so every run fails the same PUTs (with seed 1 the third flaky PUT gets a 503 before storing).
  const roll = seededRandom(1);
  // fauxqs does not check SigV4, so the shape of each PUT's signature is checked here.
  const SIGV4 =
    /^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/;
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'PUT' || !request.url.includes('.ndjson.gz')) return;
    const { authorization, 'x-amz-date': date, 'x-amz-content-sha256': sha, 'content-encoding': encoding } = request.headers;
    if (!SIGV4.test(String(authorization)) || !/^\d{8}T\d{6}Z$/.test(String(date)) || !sha || encoding !== 'gzip') {
      state.unsigned.push(`${request.url}: ${authorization}`);
    }
    if (state.mode === 'down') {
      request.raw.socket.destroy();
      return reply;
    }
    if (state.mode === 'flaky' && roll() < 0.15) {
      state.failed++;
      return reply.code(503).send('SlowDown');
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'PUT' || !request.url.includes('.ndjson.gz') || reply.statusCode !== 200) return payload;
    state.puts++;
    if (state.mode === 'flaky' && roll() < 0.15) {
      state.failed++;
      reply.code(500);
    }
    return payload;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, close: () => app.close() });
}

const s3Client = () =>
  new S3Client({
    endpoint: s3.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: S3_SECRET },
  });

/** Every event id in the bucket's objects, objects in key order (commit positions), lines in order. */
async function bucketEventIds(): Promise<string[]> {
  const client = s3Client();
  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'audit', Prefix: 'streams/' }));
  const keys = (listed.Contents ?? []).map((object) => object.Key as string).sort();
  const ids: string[] = [];
  for (const key of keys) {
    const object = await client.send(new GetObjectCommand({ Bucket: 'audit', Key: key }));
    const text = gunzipSync(
      Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
    ).toString();
    ids.push(
      ...text
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as LogEvent).id),
    );
  }
  client.destroy();
  return ids;
}

/**
 * The tenant's events in commit order, read from the store's commit log (SQLite seq order). Not the
 * export route: an export records itself as a `logs.export` event, which the streams then deliver too.
 */
async function committedEvents(): Promise<LogEvent[]> {
  const rows = await server.app.stores.streamLog.after(tenantOf({ tenant: TENANT }), 0, {}, 1_000_000);
  return rows.map((row) => row.event);
}

beforeAll(async () => {
  tls = await loopbackCertificate();
  [webhook, hec, datadog, s3] = await Promise.all([
    Receiver.start('webhook', SIGNING_SECRET, { tls }),
    Receiver.start('splunk_hec', HEC_TOKEN),
    Receiver.start('datadog', DD_KEY),
    startS3(),
  ]);
  const bucket = s3Client();
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await bucket.send(new CreateBucketCommand({ Bucket: 'audit' }));
  bucket.destroy();
  server = await startAllInOne({
    // The receivers are on loopback: only 127.0.0.1 is allowed, so 127.0.0.2 and every other private range stay refused.
    STREAM_DESTINATION_ALLOW: '127.0.0.1',
    STREAM_RETRIES: '60',
    STREAM_RETRY_MIN_MS: '10',
    STREAM_RETRY_MAX_MS: '150',
    STREAM_INTERVAL_MS: '30',
    STREAM_BATCH_MAX_EVENTS: FULL ? '500' : '50',
    // Long enough that no answer arrives after the deliverer gave up on it (a late answer is a lost
    // answer the receiver cannot see, which would make a duplicate this test could not account for).
    STREAM_REQUEST_TIMEOUT_MS: FULL ? '20000' : '5000',
    STREAM_DLQ_MAX_BATCHES: '2',
    STREAM_MAX_DESTINATIONS_PER_TENANT: '8',
    RATE_LIMIT_PER_TENANT: '0',
  });
  admin = await server.token(TENANT, 'admin');
  writer = await server.token(TENANT, 'writer');
}, 60_000);

afterAll(async () => {
  await server?.close();
  await Promise.all([webhook?.close(), hec?.close(), datadog?.close(), s3?.close()]);
});

const create = (body: Record<string, unknown>) => call(`${server.url}/api/v1/streams`, { token: admin, body });

describe('log streams to a webhook, Splunk HEC, Datadog and S3', () => {
  it(`delivers all ${EVENTS} events at least once, in commit order, with only the duplicates lost answers explain`, async () => {
    const made = await Promise.all([
      create({ kind: 'webhook', name: 'hook', url: `${webhook.url}/audit`, signing_secret: SIGNING_SECRET, ca: tls.cert }),
      create({ kind: 'splunk_hec', name: 'splunk', url: hec.url, token: HEC_TOKEN, index: 'audit' }),
      create({ kind: 'datadog', name: 'dd', url: datadog.url, api_key: DD_KEY, filter: { severity: 'ERROR,CRITICAL' } }),
      create({
        kind: 's3',
        name: 'bucket',
        endpoint: s3.url,
        bucket: 'audit',
        prefix: 'streams/',
        force_path_style: true,
        access_key_id: 'test',
        secret_access_key: S3_SECRET,
      }),
    ]);
    for (const response of made) expect(response.status, response.text).toBe(200);
    // Secrets are sealed at rest and never answered.
    for (const secret of [SIGNING_SECRET, HEC_TOKEN, DD_KEY, S3_SECRET]) {
      expect(made.map((response) => response.text).join('')).not.toContain(secret);
      expect((await call(`${server.url}/api/v1/streams`, { token: admin })).text).not.toContain(secret);
    }

    // Down for the first part of the run, then failing 30 % of requests (half of them after taking the batch).
    for (const receiver of [webhook, hec, datadog]) receiver.mode = 'down';
    s3.mode = 'down';
    const bodies = Array.from({ length: EVENTS }, () => clientEvent(seeded));
    const other = await server.token('other-tenant', 'writer');
    await postBulk(server.url, other, bodies.slice(0, 50));
    const half = Math.floor(EVENTS / 2);
    await postBulk(server.url, writer, bodies.slice(0, half));
    await vi.waitFor(() => expect(webhook.requests).toBeGreaterThan(2), { timeout: 10_000 });
    for (const receiver of [webhook, hec, datadog]) receiver.mode = 'flaky';
    s3.mode = 'flaky';
    await postBulk(server.url, writer, bodies.slice(half));

    const committed = await committedEvents();
    expect(committed).toHaveLength(EVENTS);
    const all = committed.map((event) => event.id);
    const severe = committed.filter((event) => event.severity === 'ERROR' || event.severity === 'CRITICAL').map((event) => event.id);
    const timeout = FULL ? 600_000 : 20_000;
    await vi.waitFor(
      async () => {
        expect(webhook.uniqueEvents).toBe(all.length);
        expect(hec.uniqueEvents).toBe(all.length);
        expect(datadog.uniqueEvents).toBe(severe.length);
        expect(new Set(await bucketEventIds()).size).toBe(all.length);
      },
      { timeout, interval: 200 },
    );
    expect([...webhook.refused, ...hec.refused, ...datadog.refused]).toEqual([]);
    expect(deliveryProblems(webhook.batches, all)).toEqual([]);
    expect(deliveryProblems(hec.batches, all)).toEqual([]);
    expect(deliveryProblems(datadog.batches, severe)).toEqual([]);
    // S3: a batch sent again writes the same object again, so the bucket holds each event once, in commit order.
    expect(await bucketEventIds()).toEqual(all);
    // The receivers did fail and lose answers; otherwise this test would show nothing.
    expect(webhook.batches.some((batch) => batch.answeredFailure)).toBe(true);
    expect(s3.failed).toBeGreaterThan(0);
    expect(s3.unsigned).toEqual([]);

    const listed = await call(`${server.url}/api/v1/streams`, { token: admin });
    if (FULL) {
      // What the note reports for the full-scale run: per destination, batches taken, events taken twice, attempts that failed.
      const summary = listed.body.data.map((destination: { name: string; state: Record<string, number> }) => ({
        name: destination.name,
        delivered_events: destination.state.delivered_events,
        failed_attempts: destination.state.failed_attempts,
      }));
      const taken = Object.fromEntries(
        [webhook, hec, datadog].map((receiver) => [
          receiver.kind,
          { batches: receiver.batches.length, duplicates: receiver.eventIds.length - receiver.uniqueEvents },
        ]),
      );
      console.log(JSON.stringify({ events: EVENTS, destinations: summary, receivers: taken, s3: { puts: s3.puts, failed: s3.failed } }));
    }
    for (const destination of listed.body.data) {
      expect(destination.state, destination.name).toMatchObject({ caught_up: true, dead_letters: 0, lag_seconds: 0 });
      expect(destination.state.failed_attempts, destination.name).toBeGreaterThan(0);
    }
    const metrics = await call(`${server.url}/metrics`, { token: await server.token('system', 'admin') });
    expect(metrics.text).toMatch(/stream_destination_delivered_events\{tenant="acme",destination="[^"]+",kind="webhook"\} \d+/);
    expect(metrics.text).toContain('stream_destination_lag_seconds{');
    expect(metrics.text).toContain('stream_destination_dead_letters{');
    for (const destination of listed.body.data)
      await call(`${server.url}/api/v1/streams/${destination.id}`, { token: admin, method: 'DELETE' });
  }, 700_000);

  it('a destination that hangs holds up neither POSTs nor the other destinations', async () => {
    const hanging = await Receiver.start('webhook', SIGNING_SECRET, { tls });
    hanging.mode = 'hang';
    hec.mode = 'up';
    const before = hec.uniqueEvents;
    const stuck = await create({ kind: 'webhook', name: 'stuck', url: hanging.url, signing_secret: SIGNING_SECRET, ca: tls.cert });
    const healthy = await create({ kind: 'splunk_hec', name: 'healthy', url: hec.url, token: HEC_TOKEN });
    expect([stuck.status, healthy.status]).toEqual([200, 200]);
    // One event at a time: each POST is answered while the first destination holds a request open.
    const posted: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await call(`${server.url}/api/v1/logs`, { token: writer, body: clientEvent(seeded) });
      expect(response.status).toBe(200);
      posted.push(response.body.data.id);
      if (i === 0) await vi.waitFor(() => expect(hanging.requests).toBeGreaterThan(0), { timeout: 5_000 });
    }
    await vi.waitFor(() => expect(hec.uniqueEvents).toBe(before + posted.length), { timeout: 10_000 });
    expect(hanging.batches).toEqual([]);
    const state = (await call(`${server.url}/api/v1/streams/${stuck.body.data.id}`, { token: admin })).body.data.state;
    expect(state.caught_up).toBe(false);
    expect(state.delivered_events).toBe(0);
    for (const made of [stuck, healthy])
      await call(`${server.url}/api/v1/streams/${made.body.data.id}`, { token: admin, method: 'DELETE' });
    await hanging.close();
  });

  it('moves a refused batch to the dead-letter list, stops (blocked) when the list is full, and replays it', async () => {
    const refusing = await Receiver.start('datadog', DD_KEY);
    refusing.mode = 'reject';
    const made = await create({ kind: 'datadog', name: 'strict', url: refusing.url, api_key: DD_KEY });
    expect(made.status).toBe(200);
    const id = made.body.data.id as string;
    // Three batches of 50: a 400 is permanent, so each goes to the dead letters at once; the list holds 2 (STREAM_DLQ_MAX_BATCHES).
    const stored = await postBulk(
      server.url,
      writer,
      Array.from({ length: 150 }, () => clientEvent(seeded)),
    );
    await vi.waitFor(
      async () => {
        const { state } = (await call(`${server.url}/api/v1/streams/${id}`, { token: admin })).body.data;
        expect(state).toMatchObject({ status: 'blocked', dead_letters: 2, dead_lettered_events: 100, caught_up: false });
      },
      { timeout: 10_000 },
    );
    const letters = await call(`${server.url}/api/v1/streams/${id}/dead-letters`, { token: admin });
    expect(letters.body.data.map((letter: { event_count: number }) => letter.event_count)).toEqual([50, 50]);
    expect(letters.body.data[0].error).toContain('HTTP 400');
    const first = await call(`${server.url}/api/v1/streams/${id}/dead-letters?limit=1`, { token: admin });
    expect(first.body.data).toEqual([letters.body.data[0]]);
    // Another tenant's admin sees neither the list nor can replay it.
    const stranger = await server.token('stranger', 'admin');
    expect((await call(`${server.url}/api/v1/streams/${id}/dead-letters`, { token: stranger })).status).toBe(404);
    const foreign = await call(`${server.url}/api/v1/streams/${id}/dead-letters/replay`, { token: stranger, body: {} });
    expect(foreign.status).toBe(404);

    refusing.mode = 'up';
    const replay = await call(`${server.url}/api/v1/streams/${id}/dead-letters/replay`, { token: admin, body: {} });
    expect(replay.body.data).toEqual({ replay_requested: 2 });
    await vi.waitFor(() => expect(refusing.uniqueEvents).toBe(150), { timeout: 10_000 });
    expect(new Set(refusing.eventIds)).toEqual(new Set(stored.map((event) => event.id)));
    await vi.waitFor(async () => {
      const { state } = (await call(`${server.url}/api/v1/streams/${id}`, { token: admin })).body.data;
      expect(state).toMatchObject({ status: 'ok', dead_letters: 0, caught_up: true });
    });
    await call(`${server.url}/api/v1/streams/${id}`, { token: admin, method: 'DELETE' });
    await refusing.close();
  });

  it('refuses destinations on loopback, private, link-local and cluster addresses, at save time and on a redirect', async () => {
    const refusedUrls = [
      'https://127.0.0.2/hook',
      'https://10.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://192.168.1.10/hook',
      'https://localhost/hook',
      'https://logserver-mongodb/hook',
      'https://log.logserver.svc.cluster.local/hook',
      'http://siem.example.com/hook',
    ];
    for (const url of refusedUrls) {
      const response = await create({ kind: 'webhook', name: 'ssrf', url, signing_secret: SIGNING_SECRET });
      expect(response.status, url).toBe(422);
      expect(response.body.data[0], url).toMatchObject({ loc: ['body', 'url'] });
      expect(response.body.data[0].msg, url).toMatch(/destination refused/);
    }
    const s3Refused = await create({
      kind: 's3',
      name: 'b',
      endpoint: 'http://10.1.2.3:9000',
      bucket: 'audit',
      access_key_id: 'a',
      secret_access_key: 'b',
    });
    expect(s3Refused.status).toBe(422);
    expect(s3Refused.body.data[0].loc).toEqual(['body', 'endpoint']);
    // An update is checked the same way.
    const fine = await create({
      kind: 'webhook',
      name: 'fine',
      url: `${webhook.url}/audit`,
      signing_secret: SIGNING_SECRET,
      ca: tls.cert,
      enabled: false,
    });
    const moved = await call(`${server.url}/api/v1/streams/${fine.body.data.id}`, {
      token: admin,
      method: 'PATCH',
      body: { url: 'https://10.0.0.1/x' },
    });
    expect(moved.status).toBe(422);

    // At connect time: the receiver (allowed) redirects to 127.0.0.2, which is loopback and not allowed.
    const elsewhere = await Receiver.start('webhook', SIGNING_SECRET, { tls, host: '127.0.0.2' }).catch(() => null);
    expect(elsewhere, 'a receiver on 127.0.0.2 (loopback, not allowed)').not.toBeNull();
    const redirecting = await Receiver.start('webhook', SIGNING_SECRET, { tls });
    redirecting.mode = 'redirect';
    redirecting.redirectTo = `https://127.0.0.2:${elsewhere?.port ?? 9}/audit`;
    const enabled = await call(`${server.url}/api/v1/streams/${fine.body.data.id}`, {
      token: admin,
      method: 'PATCH',
      body: { url: `${redirecting.url}/audit`, enabled: true },
    });
    expect(enabled.status, enabled.text).toBe(200);
    await call(`${server.url}/api/v1/logs`, { token: writer, body: clientEvent(seeded) });
    await vi.waitFor(
      async () => {
        const letters = await call(`${server.url}/api/v1/streams/${fine.body.data.id}/dead-letters`, { token: admin });
        expect(letters.body.data[0]?.error).toMatch(/refused: 127\.0\.0\.2 is a loopback address/);
      },
      { timeout: 10_000 },
    );
    expect(redirecting.requests).toBeGreaterThan(0);
    expect(elsewhere?.requests ?? 0).toBe(0);
    await call(`${server.url}/api/v1/streams/${fine.body.data.id}`, { token: admin, method: 'DELETE' });
    await Promise.all([redirecting.close(), elsewhere?.close()]);
  });

  it('bounds a dead-letter page and a replay request at 1000 each (422 beyond, in the envelope)', async () => {
    const made = await create({ kind: 'splunk_hec', name: 'bounds', url: hec.url, token: HEC_TOKEN, enabled: false });
    const id = made.body.data.id as string;
    const page = (limit: string) => call(`${server.url}/api/v1/streams/${id}/dead-letters?limit=${limit}`, { token: admin });
    expect((await page('1000')).status).toBe(200);
    for (const limit of ['1001', '0', '-1', 'many']) {
      const refused = await page(limit);
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe(422);
      expect(refused.body.msg).toEqual(expect.any(String));
    }
    const replay = (ids: unknown) => call(`${server.url}/api/v1/streams/${id}/dead-letters/replay`, { token: admin, body: { ids } });
    expect((await replay(Array.from({ length: 1000 }, (_, i) => i + 1))).body.data).toEqual({ replay_requested: 0 });
    for (const ids of [Array.from({ length: 1001 }, (_, i) => i + 1), [], [0], ['1']]) {
      const refused = await replay(ids);
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe(422);
      expect(refused.body.msg).toEqual(expect.any(String));
    }
    await call(`${server.url}/api/v1/streams/${id}`, { token: admin, method: 'DELETE' });
  });

  it('keeps a tenant within STREAM_MAX_DESTINATIONS_PER_TENANT and other tenants out of its destinations', async () => {
    const body = { kind: 'splunk_hec', name: 'n', url: hec.url, token: HEC_TOKEN, enabled: false };
    const results = await Promise.all(Array.from({ length: 10 }, () => create(body)));
    expect(results.filter((response) => response.status === 200)).toHaveLength(8);
    const refused = results.filter((response) => response.status === 409);
    expect(refused).toHaveLength(2);
    expect(refused[0]?.body.msg).toContain('STREAM_MAX_DESTINATIONS_PER_TENANT');
    const someone = results.find((response) => response.status === 200)?.body.data.id as string;
    const stranger = await server.token('stranger', 'admin');
    expect((await call(`${server.url}/api/v1/streams/${someone}`, { token: stranger })).status).toBe(404);
    expect((await call(`${server.url}/api/v1/streams`, { token: stranger })).body.data).toEqual([]);
    expect((await call(`${server.url}/api/v1/streams/${someone}`, { token: stranger, method: 'DELETE' })).status).toBe(404);
    for (const response of results.filter((r) => r.status === 200))
      await call(`${server.url}/api/v1/streams/${response.body.data.id}`, { token: admin, method: 'DELETE' });
  });
});
