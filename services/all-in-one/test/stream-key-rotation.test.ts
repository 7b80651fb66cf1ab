import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { secretContext } from '@logserver/shared/streams/deliverer';
import { parseSecretKey, SecretBox } from '@logserver/shared/streams/secret-box';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { rotateStreamKey } from '../src/secret.js';

/** A Splunk HEC stand-in on loopback: the Authorization header of every batch, i.e. the secret the deliverer opened. */
let receiver: Server;
let receiverUrl: string;
const authorizations: string[] = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    authorizations.push(String(request.headers.authorization));
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});
afterAll(() => new Promise((resolve) => receiver.close(resolve)));

describe('make rotate-stream-key (all-in-one, keys in the data folder)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logserver-stream-key-'));
  const env = {
    DATA_DIR: dataDir,
    AUTH_SECRET: 'r'.repeat(48),
    STORE: 'sqlite',
    STREAM_DESTINATION_ALLOW: '127.0.0.1',
    STREAM_INTERVAL_MS: '30',
    RATE_LIMIT_PER_TENANT: '0',
  };
  const keyFile = join(dataDir, 'stream-secret-key');
  const previousFile = join(dataDir, 'stream-secret-key.previous');
  /** The destination's secret as stored in the SQLite file, opened with the data folder's current key alone. */
  const openWithCurrentKeyOnly = (id: string): unknown => {
    const db = new Database(join(dataDir, 'logserver.db'), { readonly: true });
    try {
      const { secret } = db.prepare('SELECT secret FROM stream_destinations WHERE id = ?').get(id) as { secret: string };
      const box = new SecretBox(parseSecretKey(readFileSync(keyFile, 'utf8')) as Buffer);
      return JSON.parse(box.open(secret, secretContext({ tenant: tenantOf({ tenant: 'acme' }), id })));
    } finally {
      db.close();
    }
  };
  const postAndReceive = async (server: RunningServer, action: string) => {
    const seen = authorizations.length;
    const writer = await server.token('acme', 'writer');
    expect(
      (await call(`${server.url}/api/v1/logs`, { token: writer, body: { action, resource_type: 'key', severity: 'INFO' } })).status,
    ).toBe(200);
    await vi.waitFor(() => expect(authorizations.length).toBeGreaterThan(seen), { timeout: 10_000 });
    return authorizations.slice(seen);
  };

  it('retires the key, seals every secret again at the next start, and works on without the previous key', async () => {
    let server = await startAllInOne(env);
    const admin = await server.token('acme', 'admin');
    const made = await call(`${server.url}/api/v1/streams`, {
      token: admin,
      body: { kind: 'splunk_hec', name: 'siem', url: receiverUrl, token: 'hec-token-1' },
    });
    expect(made.status, made.text).toBe(200);
    const id = made.body.data.id as string;
    expect(await postAndReceive(server, 'before.rotation')).toContain('Splunk hec-token-1');
    const oldKey = readFileSync(keyFile, 'utf8').trim();
    await server.close();

    expect(rotateStreamKey(dataDir)).toEqual({ retired: 1 });
    expect(readFileSync(previousFile, 'utf8').trim()).toBe(oldKey);
    expect(readFileSync(keyFile, 'utf8').trim()).not.toBe(oldKey);
    expect(() => openWithCurrentKeyOnly(id)).toThrow(/does not open/);

    // The next start seals it again under the new key, in the background, and delivers meanwhile.
    server = await startAllInOne(env);
    await vi.waitFor(() => expect(openWithCurrentKeyOnly(id)).toEqual({ token: 'hec-token-1' }), { timeout: 10_000 });
    expect(await postAndReceive(server, 'after.rotation')).toContain('Splunk hec-token-1');
    const shown = await call(`${server.url}/api/v1/streams/${id}`, { token: admin });
    expect(shown.body.data).toMatchObject({ updated_at: made.body.data.updated_at, secrets_set: ['token'] });
    expect(shown.text).not.toContain('hec-token-1');
    await server.close();

    // The previous key can go: a start without it still opens and delivers.
    rmSync(previousFile);
    server = await startAllInOne(env);
    expect(await postAndReceive(server, 'without.previous')).toContain('Splunk hec-token-1');
    await server.close();
    expect(existsSync(previousFile)).toBe(false);
  }, 60_000);
});
