import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { storeConfig } from '../../src/config/schemas.js';
import { openStores, storeSettings } from '../../src/stores.js';

/** A loopback port with nothing listening on it: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const silent = { info: () => {}, warn: () => {} };

describe('opening the MongoDB stores with the real driver', () => {
  it('takes pool and timeouts from the environment and fails fast, without the URI, when no server answers', async () => {
    const port = await closedPort();
    const config = z.object(storeConfig).parse({
      MONGODB_URI: `mongodb://user:s3cret@127.0.0.1:${port}/?directConnection=true`,
      MONGODB_MAX_POOL_SIZE: '7',
      MONGODB_CONNECT_TIMEOUT_MS: '300',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '300',
    });
    const settings = storeSettings.parse(config);
    expect(settings.store).toBe('mongodb');
    expect(settings.mongo).toMatchObject({ maxPoolSize: 7, connectTimeoutMs: 300, serverSelectionTimeoutMs: 300 });
    const opening = openStores(settings, { log: silent });
    await expect(opening).rejects.toThrow(/MongoDB did not answer within 300 ms .*MONGODB_URI/);
    await expect(opening).rejects.not.toThrow(/s3cret/);
  });
});
