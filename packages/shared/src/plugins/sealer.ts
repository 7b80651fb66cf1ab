import fp from 'fastify-plugin';
import type { IntegrityStore } from '../integrity/port.js';
import { Sealer } from '../integrity/sealer.js';
import type { SigningKey } from '../integrity/signing-key.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Seals digests on its timer (sealer plugin); tests call sealAll() to seal now. */
    sealer: Sealer;
  }
}

export interface SealerPluginOptions {
  store: IntegrityStore;
  key: SigningKey;
  /** Seals every intervalMs from onReady until onClose; 0 seals only when sealAll() is called. */
  intervalMs: number;
}

/** The sealer as a plugin: its lease makes it safe beside other sealers on the same store. */
export const sealerPlugin = fp<SealerPluginOptions>(
  async (app, { store, key, intervalMs }) => {
    const sealer = new Sealer({ store, key, onError: (err) => app.log.error({ err, component: 'sealer' }, 'sealing failed') });
    app.decorate('sealer', sealer);
    if (intervalMs > 0) app.addHook('onReady', async () => sealer.start(intervalMs));
    app.addHook('onClose', () => sealer.stop());
  },
  { name: 'logserver-sealer' },
);
