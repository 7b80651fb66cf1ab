import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { commitLogOf, type RunningSink, startSink } from '../analytics/open-sink.js';
import type { AnalyticsStore } from '../analytics/port.js';
import type { AnalyticsSink } from '../analytics/sink.js';
import { AnalyticsSlots } from '../analytics/slots.js';
import { type AnalyticsConfig, openAnalytics } from '../clickhouse/open-analytics.js';
import { type StoreSettings, storeSettings } from '../stores.js';

export interface Analytics {
  store: AnalyticsStore;
  /** The queries allowed at once, per process and per tenant (stats routes). */
  slots: AnalyticsSlots;
  /** The sink, in a process that stores events (the log-worker, the all-in-one); null elsewhere. */
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
  /** Start the sink here, into the metrics registry: in the processes that store events. */
  sink?: { registry: Registry } | undefined;
}

/**
 * Opens the analytics store (nothing is sent yet: a ClickHouse down at start stops nothing) and, where
 * asked, starts the sink; both close in onClose. Register it after the stores plugin, so that the sink
 * stops before the store it reads closes.
 */
export const analyticsPlugin = fp<AnalyticsPluginOptions>(
  async (app, options) => {
    const { config } = options;
    const store = await openAnalytics(config);
    let running: RunningSink | null = null;
    if (store && options.sink) {
      const settings: StoreSettings = storeSettings.parse(config);
      running = startSink({
        analytics: store,
        config,
        store: settings,
        commitLog: await commitLogOf(app.stores),
        registry: options.sink.registry,
        log: app.log,
      });
    }
    app.decorate(
      'analytics',
      store
        ? {
            store,
            slots: new AnalyticsSlots(config.ANALYTICS_MAX_QUERIES, config.ANALYTICS_MAX_QUERIES_PER_TENANT),
            sink: running?.sink ?? null,
          }
        : null,
    );
    app.addHook('onClose', async () => {
      await running?.close();
      await store?.close();
    });
  },
  { name: 'logserver-analytics', dependencies: ['logserver-stores'] },
);
