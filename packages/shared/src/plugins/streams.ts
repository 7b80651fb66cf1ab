import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { Stores } from '../stores.js';
import type { AddressPolicy } from '../streams/address-policy.js';
import type { StreamSettings } from '../streams/config.js';
import { StreamDeliverer } from '../streams/deliverer.js';
import { resealSecrets } from '../streams/reseal.js';
import type { SecretBox } from '../streams/secret-box.js';
import { registerStreamMetrics } from '../streams/stream-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The log-stream deliverer (stream delivery plugin), once the stores it reads have opened; null before. */
    streamDeliverer: StreamDeliverer | null;
  }
}

export interface StreamDeliveryPluginOptions {
  /** Open already, or a promise of them (a service's stores dependency: delivery starts when they open). */
  stores: Stores | Promise<Stores>;
  box: SecretBox;
  policy: AddressPolicy;
  settings: StreamSettings;
  registry: Registry;
}

/**
 * Delivers log streams in a process that stores events (the all-in-one, the log-worker): it reads
 * the stores' commit log and the destinations, holds a lease per destination it delivers, and stops
 * in onClose before the stores close (register it after them).
 */
export const streamDeliveryPlugin = fp<StreamDeliveryPluginOptions>(
  async (app, options) => {
    const log = app.log.child({ component: 'log-streams' });
    let closed = false;
    app.decorate('streamDeliverer', null);
    const lastWarned = new Map<string, number>();
    let resealing: Promise<void> = Promise.resolve();
    const started = Promise.resolve(options.stores)
      .then((stores) => {
        if (closed) return;
        const deliverer = new StreamDeliverer({
          store: stores.streams,
          streamLog: stores.streamLog,
          box: options.box,
          policy: options.policy,
          settings: options.settings,
          onError: (err, destination) => {
            // A destination down fails every attempt: one warning a minute per destination says so.
            if (Date.now() - (lastWarned.get(destination) ?? 0) < 60_000) return;
            lastWarned.set(destination, Date.now());
            if (lastWarned.size > 10_000) lastWarned.clear();
            log.warn({ err, destination }, 'log-stream delivery failed; retrying from its checkpoint');
          },
        });
        registerStreamMetrics(options.registry, deliverer);
        app.streamDeliverer = deliverer;
        deliverer.start();
        // After a key rotation: secrets sealed under a previous key are sealed again, in the background.
        if (options.box.rotating) {
          resealing = resealSecrets(stores.streams, options.box).then(
            (outcome) =>
              log.info(
                { ...outcome },
                outcome.resealed + outcome.unopenable === 0
                  ? 'every destination secret is sealed under STREAM_SECRET_KEY: the previous keys can go'
                  : 'destination secrets sealed again under the new STREAM_SECRET_KEY',
              ),
            (err) => log.warn({ err }, 'sealing destination secrets again under the new key failed; it runs again at the next start'),
          );
        }
      })
      // The stores never opened (closed while retrying): there is nothing to deliver.
      .catch(() => {});
    if (!(options.stores instanceof Promise)) await started;
    app.addHook('onClose', async () => {
      closed = true;
      await started;
      await resealing;
      await app.streamDeliverer?.stop();
    });
  },
  { name: 'logserver-stream-delivery' },
);
