import fp from 'fastify-plugin';
import type { LogFeed } from '../feed/port.js';
import type { BatchHandler, LogQueue } from '../queue/port.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where accepted events go (queue plugin); closed, with its batches in hand finished, when the app closes. */
    queue: LogQueue;
    /** Where the stream hears of stored events (feed plugin); started now, closed when the app closes. */
    feed: LogFeed;
  }
}

/** Serves a queue as `app.queue` and closes it in onClose: it stops receiving and finishes the batches in hand. */
export const queuePlugin = fp<{ queue: LogQueue }>(
  async (app, { queue }) => {
    app.decorate('queue', queue);
    app.addHook('onClose', () => queue.close());
  },
  { name: 'logserver-queue' },
);

/** Starts a feed, serves it as `app.feed` and closes it in onClose. */
export const feedPlugin = fp<{ feed: LogFeed }>(
  async (app, { feed }) => {
    await feed.start();
    app.decorate('feed', feed);
    app.addHook('onClose', () => feed.close());
  },
  { name: 'logserver-feed' },
);

/**
 * Consumes `app.queue` inside Fastify's lifecycle: from onReady (before the server listens) until
 * the queue plugin closes it. Register it after queuePlugin.
 */
export const consumerPlugin = fp<{ handle: BatchHandler }>(
  async (app, { handle }) => {
    app.addHook('onReady', () => app.queue.consume(handle));
  },
  { name: 'logserver-consumer', dependencies: ['logserver-queue'] },
);
