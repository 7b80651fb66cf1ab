import fp from 'fastify-plugin';
import type { MongoDatabase } from '../mongo/database.js';
import { openStores, type StoreSettings, type Stores } from '../stores.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured technology's adapters (stores plugin); closed when the app closes. */
    stores: Stores;
  }
}

export interface StoresPluginOptions {
  settings: StoreSettings;
  /** An already connected database to use instead of MONGODB_URI; its owner closes it. */
  mongoDatabase?: MongoDatabase | undefined;
}

/**
 * Opens the stores and closes them in onClose. Register it before the queue, feed and sealer:
 * onClose hooks run last-added first, so those finish their work before the stores close.
 */
export const storesPlugin = fp<StoresPluginOptions>(
  async (app, options) => {
    const stores = await openStores(options.settings, { log: app.log, mongoDatabase: options.mongoDatabase });
    app.decorate('stores', stores);
    app.addHook('onClose', async () => {
      await stores.streamLog.close();
      await stores.logs.close();
      await stores.tenants.close();
      await stores.integrity?.close();
      await stores.idempotency.close();
      await stores.streams.close();
      await stores.retention.close();
    });
  },
  { name: 'logserver-stores' },
);
