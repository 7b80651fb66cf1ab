import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { describeLogFeedContract } from '../../src/feed/log-feed.contract.js';
import { SqliteLogFeed } from '../../src/sqlite/log-feed.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

/** The feed and the store on separate connections to one file, as the log service and the worker are. */
function openPair() {
  const dir = mkdtempSync(join(tmpdir(), 'logserver-feed-'));
  const path = join(dir, 'logs.db');
  const feed = new SqliteLogFeed(path, { pollMs: 20 });
  const store = SqliteLogStore.open(path);
  const close = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { feed, store, close };
}

describeLogFeedContract('SqliteLogFeed', async () => {
  const { feed, store, close } = openPair();
  return {
    feed,
    store: async (events) => {
      const tenant = events[0]?.tenant_id ?? '';
      await store.append(tenantOf({ tenant }), events);
    },
    close,
  };
});

describe('SqliteLogFeed', () => {
  it('announces only events stored after it started, and a redelivered event once', async () => {
    const { feed, store, close } = openPair();
    const tenant = tenantOf({ tenant: 'tenant-a' });
    try {
      const old = makeEvent('tenant-a');
      await store.append(tenant, [old]);
      await feed.start();
      const seen: string[] = [];
      feed.subscribe(tenant, (event) => seen.push(event.id));
      const fresh = makeEvent('tenant-a');
      await store.append(tenant, [fresh]);
      await store.append(tenant, [fresh, old]);
      const marker = makeEvent('tenant-a');
      await store.append(tenant, [marker]);
      await expect.poll(() => seen.includes(marker.id), { timeout: 5_000, interval: 20 }).toBe(true);
      expect(seen).toEqual([fresh.id, marker.id]);
    } finally {
      await feed.close();
      await close();
    }
  });
});
