import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../../src/sqlite/stream-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';
import { secretContext } from '../../src/streams/deliverer.js';
import type { DestinationRecord } from '../../src/streams/destination.js';
import { resealSecrets } from '../../src/streams/reseal.js';
import { parseSecretKeys, SecretBox } from '../../src/streams/secret-box.js';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const lostKey = randomBytes(32);
const acme = tenantOf({ tenant: 'acme' });
const globex = tenantOf({ tenant: 'globex' });

describe('SecretBox with previous keys', () => {
  it('opens what a previous key sealed, says so, and seals only under the current key', () => {
    const before = new SecretBox(oldKey).seal('{"token":"t"}', 'c');
    const box = new SecretBox(newKey, [oldKey]);
    expect(box.rotating).toBe(true);
    expect(box.openWith(before, 'c')).toEqual({ plain: '{"token":"t"}', current: false });
    const after = box.seal('{"token":"t"}', 'c');
    expect(box.openWith(after, 'c')).toEqual({ plain: '{"token":"t"}', current: true });
    expect(() => new SecretBox(oldKey).open(after, 'c')).toThrow();
    expect(() => box.open(new SecretBox(lostKey).seal('x', 'c'), 'c')).toThrow(/STREAM_SECRET_KEY_PREVIOUS/);
    expect(() => box.open(before, 'another destination')).toThrow();
    expect(new SecretBox(newKey, [newKey]).rotating).toBe(false);
  });

  it('reads STREAM_SECRET_KEY_PREVIOUS as a comma list of keys, refusing any entry that is not one', () => {
    expect(parseSecretKeys(`${oldKey.toString('hex')}, ${lostKey.toString('base64')}`)?.map((key) => key.toString('hex'))).toEqual([
      oldKey.toString('hex'),
      lostKey.toString('hex'),
    ]);
    expect(parseSecretKeys(`${oldKey.toString('hex')},not-a-key`)).toBeNull();
  });
});

describe('resealSecrets after a rotation (SQLite file)', () => {
  let store: SqliteStreamStore;
  beforeEach(async () => {
    store = await SqliteStreamStore.open(join(mkdtempSync(join(tmpdir(), 'logserver-reseal-')), 'logserver.db'));
  });
  afterEach(() => store.close());

  const record = (tenant: typeof acme, n: number, key: Buffer): DestinationRecord => {
    const id = `d-${String(n).padStart(4, '0')}`;
    return {
      id,
      tenant,
      name: `n${n}`,
      kind: 'splunk_hec',
      enabled: n % 3 !== 0,
      settings: { url: 'https://siem.example.com' },
      filter: {},
      secret: new SecretBox(key).seal(JSON.stringify({ token: `secret-${n}` }), secretContext({ tenant, id })),
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
  };

  it('seals every secret of every tenant again under the current key, over several pages, and leaves the rest alone', async () => {
    // 230 destinations (three pages) of two tenants, enabled and disabled, under the old key; one under the new; one under a key lost.
    for (let n = 0; n < 230; n++) await store.create(n % 2 ? acme : globex, record(n % 2 ? acme : globex, n, oldKey), 0, 1000);
    await store.create(acme, record(acme, 901, newKey), 0, 1000);
    await store.create(acme, record(acme, 902, lostKey), 0, 1000);
    const box = new SecretBox(newKey, [oldKey]);
    expect(await resealSecrets(store, box)).toEqual({ resealed: 230, current: 1, unopenable: 1 });
    const only = new SecretBox(newKey);
    for (const destination of await store.allDestinations(null, 1000)) {
      if (destination.id === 'd-0902') continue;
      const n = Number(destination.id.slice(2));
      expect(JSON.parse(only.open(destination.secret, secretContext(destination)))).toEqual({ token: `secret-${n}` });
      expect(destination.updatedAt).toBe('2026-01-01T00:00:00.000Z');
    }
    // Again: nothing is left under the old key, so the previous keys can go.
    expect(await resealSecrets(store, box)).toEqual({ resealed: 0, current: 231, unopenable: 1 });
  });

  it('loses to a PATCH made while it runs: the secret the admin gave stays', async () => {
    const stale = record(acme, 1, oldKey);
    await store.create(acme, stale, 0, 10);
    const box = new SecretBox(newKey, [oldKey]);
    const patched = box.seal(JSON.stringify({ token: 'from-the-patch' }), secretContext(stale));
    // The page is read, then the admin's PATCH lands before the replacement.
    const racing = {
      allDestinations: (after: string | null, limit: number) => store.allDestinations(after, limit),
      replaceSecret: async (id: string, from: string, to: string) => {
        await store.update(acme, id, { secret: patched, updatedAt: '2026-02-01T00:00:00.000Z' });
        return store.replaceSecret(id, from, to);
      },
    };
    expect(await resealSecrets(racing, box)).toEqual({ resealed: 0, current: 1, unopenable: 0 });
    const kept = await store.get(acme, stale.id);
    expect(JSON.parse(box.open(kept?.secret as string, secretContext(stale)))).toEqual({ token: 'from-the-patch' });
  });
});
