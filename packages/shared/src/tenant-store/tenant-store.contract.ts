import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TenantStore } from './port.js';

/** The TenantStore contract: every adapter must pass it unchanged. */
export function describeTenantStoreContract(name: string, open: () => Promise<TenantStore>): void {
  describe(`TenantStore contract: ${name}`, () => {
    let store: TenantStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('creates, gets and lists tenants', async () => {
      const created = await store.create({ key: 'acme', name: 'Acme Inc.' });
      expect(created).toMatchObject({ key: 'acme', name: 'Acme Inc.' });
      expect(Number.isNaN(Date.parse(created.created_at))).toBe(false);
      await store.create({ key: 'globex', name: 'Globex' });
      expect(await store.get('acme')).toEqual(created);
      expect(await store.get('nobody')).toBeNull();
      expect((await store.list()).map((tenant) => tenant.key).sort()).toEqual(['acme', 'globex']);
    });

    it('refuses a second tenant with the same key with a 409', async () => {
      await store.create({ key: 'acme', name: 'Acme' });
      await expect(store.create({ key: 'acme', name: 'Other' })).rejects.toMatchObject({
        statusCode: 409,
        code: 'LOGSERVER_ERR_TENANT_EXISTS',
      });
      expect(await store.get('acme')).toMatchObject({ name: 'Acme' });
    });
  });
}
