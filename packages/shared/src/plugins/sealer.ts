import fp from 'fastify-plugin';
import type { IntegrityStore } from '../integrity/port.js';
import { Sealer } from '../integrity/sealer.js';
import type { SigningKey } from '../integrity/signing-key.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Signs checkpoints on its timer (sealer plugin); tests call sealAll() to seal now. */
    sealer: Sealer;
  }
}

export interface SealerPluginOptions {
  store: IntegrityStore;
  /** The key, or a function asked once per seal so a rotated key takes effect without a restart. */
  key: SigningKey | (() => SigningKey);
  /** INTEGRITY_ORIGIN: checkpoint origins are `<logName>/<tenant>`. */
  logName?: string;
  /** Seals every intervalMs from onReady until onClose; 0 seals only when sealAll() is called. */
  intervalMs: number;
}

/** The sealer as a plugin: its lease makes it safe beside other sealers on the same store. */
export const sealerPlugin = fp<SealerPluginOptions>(
  async (app, { store, key, logName, intervalMs }) => {
    const sealer = new Sealer({
      store,
      key,
      ...(logName === undefined ? {} : { logName }),
      onError: (err) => app.log.error({ err, component: 'sealer' }, 'sealing failed'),
    });
    app.decorate('sealer', sealer);
    if (intervalMs > 0) app.addHook('onReady', async () => sealer.start(intervalMs));
    app.addHook('onClose', () => sealer.stop());
  },
  { name: 'logserver-sealer' },
);
