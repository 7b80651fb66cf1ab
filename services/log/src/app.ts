import websocket from '@fastify/websocket';
import type { AnalyticsStore } from '@logserver/shared/analytics/port';
import type { AnalyticsSlots } from '@logserver/shared/analytics/slots';
import type { IdentityResolver } from '@logserver/shared/auth/request-auth';
import { requireAuth } from '@logserver/shared/auth/request-auth';
import type { LogFeed, StreamLog } from '@logserver/shared/feed/port';
import { useZod } from '@logserver/shared/http/server';
import type { IdempotencyStore } from '@logserver/shared/idempotency/port';
import { IntegrityGate } from '@logserver/shared/integrity/integrity-gate';
import type { LogQueue } from '@logserver/shared/queue/port';
import type { EventCopies } from '@logserver/shared/retention/job';
import type { LogStore } from '@logserver/shared/store/port';
import { type CursorCodec, createCursorCodec } from '@logserver/shared/stream/cursor';
import type { StreamAdmin } from '@logserver/shared/streams/destinations';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { DEFAULT_EXPORT_LIMITS, type ExportLimits, ExportSlots } from './export/export-slots.js';
import { DEFAULT_IDEMPOTENCY, type IdempotencySettings, IdempotentIngest } from './idempotent-ingest.js';
import { cleanupRoutes } from './routes/cleanup.js';
import { exportRoutes } from './routes/export.js';
import { ingestRoutes } from './routes/ingest.js';
import { type IntegrityDeps, integrityRoutes } from './routes/integrity.js';
import { logStreamRoutes } from './routes/log-streams.js';
import { readRoutes } from './routes/read.js';
import { streamRoutes } from './routes/stream.js';
import { DEFAULT_SEARCH_LIMITS, type SearchLimits, SearchSlots } from './search/search-slots.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './stream/limits.js';
import { StreamHub } from './stream/stream-hub.js';
import { DEFAULT_RATE_LIMIT, registerTenantRateLimit, type TenantRateLimit } from './tenant-rate-limit.js';

export interface LogDeps {
  store: LogStore;
  queue: LogQueue;
  feed: LogFeed;
  /** The tenant's events in commit order, for resumed streams and exports. */
  streamLog: StreamLog;
  /** Seals and opens stream cursors; every replica behind one load balancer needs the same key. */
  cursors: CursorCodec;
  identity: IdentityResolver;
  newId: () => string;
  now: () => Date;
  /** Where the stream's Prometheus series go; the process's /metrics registry. */
  metrics?: Registry | undefined;
  /** With ANALYTICS on, stats are answered from the analytics store, within these slots. */
  analytics?: { store: AnalyticsStore; slots: AnalyticsSlots } | undefined;
  /** Where Idempotency-Keys are kept; without it the header is accepted and ignored (README "Idempotent ingest"). */
  idempotency?: IdempotencyStore | undefined;
  /** Tamper-evidence routes are served when the store keeps digests. */
  integrity?: IntegrityDeps | undefined;
  /** Log-stream destinations (/api/v1/streams); without one (no STREAM_SECRET_KEY) those routes answer 503. */
  streams?: StreamAdmin | undefined;
  /** Copies of events beside the store (the streams' dead letters): a cleanup prunes them too. */
  copies?: EventCopies | undefined;
}

export interface LogAppConfig {
  adminTenant: string;
  /** Live-stream limits; each one left out takes its default. */
  stream?: Partial<StreamLimits> | undefined;
  /** Per-tenant request limit; absent means the defaults of RATE_LIMIT_PER_TENANT and RATE_LIMIT_WINDOW. */
  rateLimit?: TenantRateLimit | undefined;
  /** Concurrent exports and the idle cut-off; each one left out takes its default. */
  exports?: Partial<ExportLimits> | undefined;
  /** Concurrent scanning searches (search, user_agent) per tenant and per replica. */
  searches?: Partial<SearchLimits> | undefined;
  /** IDEMPOTENCY_* settings; each one left out takes its default. */
  idempotency?: Partial<IdempotencySettings> | undefined;
}

export type { ExportLimits, IntegrityDeps, SearchLimits, StreamLimits, TenantRateLimit };

/** The log API as a plugin: it takes its ports and config, and neither listens nor exits. */
export function buildLogApp(
  deps: Omit<LogDeps, 'newId' | 'now' | 'cursors'> & Partial<Pick<LogDeps, 'newId' | 'now' | 'cursors'>>,
  config: LogAppConfig,
): FastifyPluginAsync {
  // Without a configured key cursors are good on this process only (tests; main.ts always passes one).
  const full: LogDeps = { newId: uuidv7, now: () => new Date(), cursors: createCursorCodec(), ...deps };
  // One gate for every integrity request of this app: proofs, consistency, verify and export manifests.
  if (full.integrity) full.integrity = { ...full.integrity, gate: full.integrity.gate ?? new IntegrityGate() };
  const limits = { ...DEFAULT_STREAM_LIMITS, ...config.stream };
  return async (app) => {
    const hub = new StreamHub(full, limits, full.metrics);
    useZod(app);
    await app.register(websocket, {
      options: { maxPayload: 64 * 1024 },
      // Streams are told why they end and where to resume, so clients reconnect to another replica
      // instead of reporting an error (SSE responses too: they would otherwise hold the close open).
      preClose(done) {
        void hub.closeAll().then(() => this.websocketServer.close(() => done()));
      },
    });
    requireAuth(app, full.identity, config.adminTenant);
    await registerTenantRateLimit(app, config.rateLimit ?? DEFAULT_RATE_LIMIT);
    const keyed = full.idempotency
      ? new IdempotentIngest(full.idempotency, { ...DEFAULT_IDEMPOTENCY, ...config.idempotency }, full.now, (err) =>
          app.log.warn({ err, component: 'idempotency' }, 'idempotency key bookkeeping failed'),
        )
      : null;
    await app.register(ingestRoutes(full, keyed));
    await app.register(readRoutes(full, new SearchSlots({ ...DEFAULT_SEARCH_LIMITS, ...config.searches })));
    const exportLimits = { ...DEFAULT_EXPORT_LIMITS, ...config.exports };
    await app.register(exportRoutes(full, new ExportSlots(exportLimits), exportLimits));
    await app.register(cleanupRoutes(full));
    await app.register(streamRoutes(full, hub, limits));
    if (full.integrity) await app.register(integrityRoutes(full, full.integrity));
    await app.register(logStreamRoutes(full.streams ?? null));
  };
}
