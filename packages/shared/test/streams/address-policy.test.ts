import { randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fauxqs, startFauxqs } from '../../../../test/support/fauxqs.js';
import type { TenantId } from '../../src/store/tenant-id.js';
import { AddressPolicy, DestinationRefused, type Resolver } from '../../src/streams/address-policy.js';
import { S3Sender } from '../../src/streams/s3-sender.js';
import { guardedDispatcher } from '../../src/streams/safe-connect.js';
import { SecretBox } from '../../src/streams/secret-box.js';
import { DeliveryFailed } from '../../src/streams/sender.js';

/** A resolver for names that exist only in this test, so an answer proves the policy's lookup was the one used. */
const names =
  (table: Record<string, string[] | (() => string[])>): Resolver =>
  async (hostname) => {
    const entry = table[hostname];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const list = typeof entry === 'function' ? entry() : entry;
    return list.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('AddressPolicy', () => {
  const policy = new AddressPolicy();

  it('refuses loopback, private, link-local, CGNAT, unique-local and mapped private addresses; allows public unicast', () => {
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '169.254.169.254',
      '192.168.1.1',
      '172.16.0.1',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fc00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
      '[::1]',
    ]) {
      expect(policy.addressRefusal(address), address).toMatch(/destinations must be public/);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) expect(policy.addressRefusal(address), address).toBeNull();
  });

  it('lets STREAM_DESTINATION_ALLOW list addresses and ranges, and nothing beside them', () => {
    const allowed = AddressPolicy.fromSetting('127.0.0.1, 10.1.0.0/16, ::1');
    expect(allowed.addressRefusal('127.0.0.1')).toBeNull();
    expect(allowed.addressRefusal('10.1.200.3')).toBeNull();
    expect(allowed.addressRefusal('::1')).toBeNull();
    expect(allowed.addressRefusal('127.0.0.2')).toMatch(/loopback/);
    expect(allowed.addressRefusal('10.2.0.1')).toMatch(/private/);
    expect(() => AddressPolicy.fromSetting('10.0.0.0/99')).toThrow(/STREAM_DESTINATION_ALLOW/);
  });

  it('refuses local and cluster names unless listed by name', () => {
    for (const name of ['localhost', 'mongodb', 'log.logserver.svc.cluster.local', 'kubernetes.default.svc', 'metadata.google.internal']) {
      expect(policy.nameRefusal(name), name).toMatch(/local or cluster-internal/);
    }
    expect(policy.nameRefusal('siem.example.com')).toBeNull();
    expect(AddressPolicy.fromSetting('*.svc.cluster.local').nameRefusal('splunk.monitoring.svc.cluster.local')).toBeNull();
  });

  it('refuses a name when any address it resolves to is refused', async () => {
    const resolving = new AddressPolicy(
      undefined,
      names({
        'internal.test': ['10.0.0.1'],
        'metadata.test': ['169.254.169.254'],
        'mixed.test': ['8.8.8.8', '127.0.0.1'],
        'public.test': ['8.8.8.8'],
      }),
    );
    await expect(resolving.check('internal.test')).rejects.toThrow(/10\.0\.0\.1 is a private address/);
    await expect(resolving.check('metadata.test')).rejects.toThrow(/169\.254\.169\.254 is a linkLocal address/);
    await expect(resolving.check('mixed.test')).rejects.toThrow(/127\.0\.0\.1 is a loopback address/);
    await expect(resolving.check('public.test')).resolves.toEqual([{ address: '8.8.8.8', family: 4 }]);
    await expect(resolving.check('nowhere.test')).rejects.toThrow(DestinationRefused);
    await expect(resolving.check('nowhere.test', { unresolved: 'accept' })).resolves.toEqual([]);
  });

  it('gives up on DNS that never answers: refused, or accepted as unresolved, within the timeout', async () => {
    const silent = new AddressPolicy(undefined, () => new Promise<LookupAddress[]>(() => {}), 50);
    const started = Date.now();
    await expect(silent.check('hangs.test')).rejects.toThrow(/hangs\.test does not resolve \(ETIMEOUT\)/);
    await expect(silent.check('hangs.test', { unresolved: 'accept' })).resolves.toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('guardedDispatcher: the address checked is the address connected', () => {
  let receiver: Server;
  let port: number;
  let requests = 0;
  beforeAll(async () => {
    receiver = createServer((_request, response) => {
      requests++;
      response.end('ok');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as { port: number }).port;
  });
  afterAll(() => new Promise((resolve) => receiver.close(resolve)));

  const post = (policy: AddressPolicy, url: string) =>
    fetch(url, { method: 'POST', body: '{}', dispatcher: guardedDispatcher(policy, { timeoutMs: 2000 }) });
  const causeOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
      return null;
    } catch (error) {
      return (error as Error).cause;
    }
  };

  it('refuses a name that resolves to loopback at connect time, and connects once the address is allowed', async () => {
    const table = { 'receiver.test': ['127.0.0.1'] };
    const before = requests;
    const refused = await causeOf(post(new AddressPolicy(undefined, names(table)), `http://receiver.test:${port}/`));
    expect(refused).toBeInstanceOf(DestinationRefused);
    expect(requests).toBe(before);
    const listed = AddressPolicy.fromSetting('127.0.0.1', names(table));
    const response = await post(listed, `http://receiver.test:${port}/`);
    expect(response.status).toBe(200);
    expect(requests).toBe(before + 1);
  });

  it('refuses an IP literal, which no lookup sees, and a name that changed to a refused address since it was saved (rebinding)', async () => {
    expect(await causeOf(post(new AddressPolicy(), `http://127.0.0.1:${port}/`))).toBeInstanceOf(DestinationRefused);
    let calls = 0;
    const rebinding = new AddressPolicy(undefined, names({ 'rebind.test': () => (calls++ === 0 ? ['8.8.8.8'] : ['127.0.0.1']) }));
    await expect(rebinding.check('rebind.test')).resolves.toHaveLength(1);
    const before = requests;
    expect(await causeOf(post(rebinding, `http://rebind.test:${port}/`))).toBeInstanceOf(DestinationRefused);
    expect(requests).toBe(before);
  });
});

describe('S3Sender: the AWS SDK connects through the same checks', () => {
  let s3: Fauxqs;
  beforeAll(async () => {
    s3 = await startFauxqs();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await client.send(new CreateBucketCommand({ Bucket: 'guarded' }));
    client.destroy();
  });
  afterAll(() => s3.stop());

  // A dotted endpoint name is virtual-hosted: the SDK dials <bucket>.<name>, as on AWS, and fauxqs reads the bucket from Host.
  const sender = (policy: AddressPolicy, endpoint: string) =>
    new S3Sender(
      policy,
      { bucket: 'guarded', region: 'us-east-1', endpoint, prefix: '', force_path_style: !endpoint.includes('objects.test') },
      { access_key_id: 'a', secret_access_key: 'b' },
      2000,
    );
  const batch = {
    id: 'b1',
    tenant: 'acme' as TenantId,
    destinationId: 'd1',
    events: [{ id: 'e1', received_at: '2026-12-01T00:00:00.000Z' }] as never,
    firstPosition: 1,
    lastPosition: 1,
  };
  const failure = (promise: Promise<void>) =>
    promise.then(
      () => null,
      (error: unknown) => error,
    );

  it('refuses a loopback endpoint given as an IP or as a name, and writes once it is allowed', async () => {
    const port = new URL(s3.endpoint).port;
    const byIp = await failure(sender(new AddressPolicy(), s3.endpoint).send(batch, new AbortController().signal));
    expect(byIp).toBeInstanceOf(DeliveryFailed);
    expect(byIp).toMatchObject({ permanent: true, message: expect.stringMatching(/refused: 127\.0\.0\.1 is a loopback address/) });
    const table = names({ 'guarded.objects.test': ['127.0.0.1'] });
    const byName = await failure(
      sender(new AddressPolicy(undefined, table), `http://objects.test:${port}`).send(batch, new AbortController().signal),
    );
    expect(byName).toMatchObject({ permanent: true, message: expect.stringMatching(/refused/) });
    await expect(
      sender(AddressPolicy.fromSetting('127.0.0.1', table), `http://objects.test:${port}`).send(batch, new AbortController().signal),
    ).resolves.toBeUndefined();
  });
});

describe('SecretBox (AES-256-GCM)', () => {
  const box = new SecretBox(randomBytes(32));
  it('opens what it sealed for the same destination only, and never holds the plain text', () => {
    const sealed = box.seal('{"token":"hec-secret"}', 'stream-destination:acme:1');
    expect(sealed).not.toContain('hec-secret');
    expect(box.open(sealed, 'stream-destination:acme:1')).toBe('{"token":"hec-secret"}');
    expect(() => box.open(sealed, 'stream-destination:other:1')).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'stream-destination:acme:1')).toThrow();
    const [version, nonce, tag, body] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(() => box.open([version, nonce, tag, flipped.toString('base64url')].join('.'), 'stream-destination:acme:1')).toThrow();
    expect(box.seal('same', 'c')).not.toBe(box.seal('same', 'c'));
  });
});
