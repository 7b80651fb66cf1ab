import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { commitLogOf, type RunningSink, startSink } from '../analytics/open-sink.js';
import type { AnalyticsStore } from '../analytics/port.js';
import type { AnalyticsSink } from '../analytics/sink.js';
import { AnalyticsSlots } from '../analytics/slots.js';
import { type AnalyticsConfig, openAnalytics } from '../clickhouse/open-analytics.js';
import { type StoreSettings, type Stores, storeSettings } from '../stores.js';

export interface Analytics {
  store: AnalyticsStore;
  /** The queries allowed at once, per process and per tenant (stats routes). */
  slots: AnalyticsSlots;
  /**
   * The sink, in a process that stores events (the log-worker, the all-in-one); null elsewhere, and
   * until the primary store it follows has opened (a log-worker may start before MongoDB).
   */
  sink: AnalyticsSink | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The analytics tier (analytics plugin), or null with ANALYTICS=off. */
    analytics: Analytics | null;
  }
}

export interface AnalyticsPluginOptions {
  config: AnalyticsConfig & z.input<typeof storeSettings>;
  /**
   * Start the sink here, into the metrics registry: in the processes that store events. It follows
   * `stores`: open already (the stores plugin's: the sink exists once the app is ready), or a promise
   * of them (a service's stores dependency: the sink starts when they open).
   */
  sink?: { registry: Registry; stores: Stores | Promise<Stores> } | undefined;
}

/**
 * Opens the analytics store (nothing is sent yet: a ClickHouse down at start stops nothing) and, where
 * asked, starts the sink once the primary store is open; both close in onClose. Register it after the
 * stores (plugin or dependency), so that the sink stops before the store it reads closes.
 */
export const analyticsPlugin = fp<AnalyticsPluginOptions>(
  async (app, options) => {
    const { config } = options;
    const store = await openAnalytics(config);
    const analytics: Analytics | null = store
      ? {
          store,
          slots: new AnalyticsSlots(config.ANALYTICS_MAX_QUERIES, config.ANALYTICS_MAX_QUERIES_PER_TENANT),
          sink: null,
        }
      : null;
    let closed = false;
    let running: Promise<RunningSink | null> = Promise.resolve(null);
    if (store && analytics && options.sink) {
      const { registry, stores } = options.sink;
      const settings: StoreSettings = storeSettings.parse(config);
      running = Promise.resolve(stores)
        .then(async (opened) => {
          const commitLog = await commitLogOf(opened);
          if (closed) {
            await commitLog?.close();
            return null;
          }
          const started = startSink({ analytics: store, config, store: settings, commitLog, registry, log: app.log });
          analytics.sink = started.sink;
          return started;
        })
        // The stores never opened (closed while retrying): there is nothing to follow.
        .catch(() => null);
      if (!(stores instanceof Promise)) await running;
    }
    app.decorate('analytics', analytics);
    app.addHook('onClose', async () => {
      closed = true;
      await (await running)?.close();
      await store?.close();
    });
  },
  { name: 'logserver-analytics' },
);
