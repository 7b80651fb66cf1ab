import fp from 'fastify-plugin';
import { v7 as uuidv7 } from 'uuid';
import type { SigningKey } from '../integrity/signing-key.js';
import { type EventCopies, RetentionJob } from '../retention/job.js';
import type { RetentionStore } from '../retention/port.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { LogStore } from '../store/port.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Applies the tenants' retention policies on its timer (retention plugin); tests call runOnce() to run now. */
    retention: RetentionJob;
  }
}

export interface RetentionPluginOptions {
  retention: RetentionStore;
  logs: Pick<LogStore, 'deleteOlderThan'>;
  /** The log streams' dead letters, pruned by the same cut-offs. */
  copies?: EventCopies | undefined;
  /** Stores the job's `logs.cleanup` audit events. */
  record: (events: LogEvent[]) => Promise<unknown>;
  /** The log's signing key where this process holds it: the job's cleanups are signed. */
  signer?: (() => SigningKey) | undefined;
  /** RETENTION_TENANT_LIMIT. */
  tenantLimit: number;
  /** RETENTION_INTERVAL in ms from onReady until onClose; 0 runs only when runOnce() is called. */
  intervalMs: number;
}

/** The retention job as a plugin: its lease makes it safe on every replica; it stops before the stores close. */
export const retentionPlugin = fp<RetentionPluginOptions>(
  async (app, { retention, logs, copies, record, tenantLimit, intervalMs, signer }) => {
    const job = new RetentionJob({
      retention,
      logs,
      copies,
      record,
      tenantLimit,
      signer,
      newId: uuidv7,
      onError: (err) => app.log.error({ err, component: 'retention' }, 'applying retention policies failed'),
    });
    app.decorate('retention', job);
    if (intervalMs > 0) app.addHook('onReady', async () => job.start(intervalMs));
    app.addHook('onClose', () => job.stop());
  },
  { name: 'logserver-retention' },
);
