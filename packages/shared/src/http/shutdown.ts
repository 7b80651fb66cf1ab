import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Health } from './health.js';

/**
 * SIGTERM/SIGINT handling for every main.ts: readiness drops first, then after the drain delay the
 * app closes (in-flight requests finish, onClose hooks release queues and stores).
 */
export function closeGracefully(app: FastifyInstance, health: Health, drainDelayMs: number): void {
  closeWithGrace({ delay: drainDelayMs + 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    health.startShutdown();
    if (drainDelayMs > 0) await sleep(drainDelayMs);
    await app.close();
  });
}
