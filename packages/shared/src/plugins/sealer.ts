import fp from 'fastify-plugin';
import type { IntegrityStore } from '../integrity/port.js';
import { Sealer, type SealRunner } from '../integrity/sealer.js';
import { ThreadSealer } from '../integrity/sealer-thread.js';
import type { SealerKeySource } from '../integrity/sealer-worker.js';
import type { SigningKey } from '../integrity/signing-key.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Signs checkpoints on its timer (sealer plugin); tests call sealAll() to seal now. */
    sealer: SealRunner;
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
  /**
   * On SQLite, seal on a thread of its own with its own connection to this file (ThreadSealer), so
   * a seal's work does not hold up the requests on this event loop; `key` is where the thread reads
   * the signing key (the same key as `key`: a fixed PEM, or the data folder's file). Without it the sealer runs on this event loop: on MongoDB (its store
   * calls are I/O, and the test double lives in this process) and in the log-worker, which serves
   * no requests (docs/tamper-evidence.md "What a seal costs").
   */
  thread?: { sqlitePath: string; key: SealerKeySource } | undefined;
}

/** The sealer as a plugin: its lease makes it safe beside other sealers on the same store. */
export const sealerPlugin = fp<SealerPluginOptions>(
  async (app, { store, key, logName, intervalMs, thread }) => {
    const onError = (err: unknown) => app.log.error({ err, component: 'sealer' }, 'sealing failed');
    const sealer: SealRunner = thread
      ? new ThreadSealer({ sqlitePath: thread.sqlitePath, key: thread.key, logName, onError })
      : new Sealer({ store, key, ...(logName === undefined ? {} : { logName }), onError });
    app.decorate('sealer', sealer);
    if (intervalMs > 0) app.addHook('onReady', async () => sealer.start(intervalMs));
    app.addHook('onClose', () => sealer.stop());
  },
  { name: 'logserver-sealer' },
);
