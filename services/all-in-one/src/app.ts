import { buildAuthApp } from '@logserver/auth/app';
import {
  buildLogApp,
  type ExportLimits,
  type IntegrityDeps,
  type LogAppConfig,
  type LogDeps,
  type SearchLimits,
  type StreamLimits,
  type TenantRateLimit,
} from '@logserver/log/app';
import { buildLogWorkerApp } from '@logserver/log-worker/app';
import type { JwtVerifier } from '@logserver/shared/auth/jwt-verifier';
import { PLATFORM_ADMIN } from '@logserver/shared/auth/rbac';
import { registeredIdentity, type TenantRegistry } from '@logserver/shared/auth/registered-tenants';
import { requireAuth, verifiedIdentity } from '@logserver/shared/auth/request-auth';
import type { KeyScheme } from '@logserver/shared/auth/tenant-key';
import type { LogFeed, StreamLog } from '@logserver/shared/feed/port';
import { metricsHandler } from '@logserver/shared/http/metrics';
import type { WorkerStats } from '@logserver/shared/pipeline/store-handler';
import type { LogQueue } from '@logserver/shared/queue/port';
import type { RetentionBounds } from '@logserver/shared/retention/policy';
import type { RetentionStore } from '@logserver/shared/retention/port';
import type { LogStore } from '@logserver/shared/store/port';
import type { CursorCodec } from '@logserver/shared/stream/cursor';
import type { TenantStore } from '@logserver/shared/tenant-store/port';
import { buildTenantApp, hasEventsIn } from '@logserver/tenant/app';
import type { FastifyPluginAsync } from 'fastify';
import { rootRoute } from './root.js';

export interface AllInOneDeps {
  verifier: JwtVerifier;
  logs: LogStore;
  tenants: TenantStore;
  retention: RetentionStore;
  queue: LogQueue;
  feed: LogFeed;
  streamLog: StreamLog;
  cursors: CursorCodec;
  idempotency?: LogDeps['idempotency'];
  workerStats: WorkerStats;
  metrics?: LogDeps['metrics'];
  integrity?: IntegrityDeps | undefined;
  /** AUTH_REQUIRE_REGISTERED_TENANT: tokens of other tenants are refused; undefined accepts any tenant key. */
  registry?: TenantRegistry | undefined;
  analytics?: LogDeps['analytics'];
  streams?: LogDeps['streams'];
  copies?: LogDeps['copies'];
}

export interface AllInOneAppConfig {
  adminTenant: string;
  authSecret: string;
  keyScheme: KeyScheme;
  stream?: Partial<StreamLimits> | undefined;
  rateLimit?: TenantRateLimit | undefined;
  exports?: Partial<ExportLimits> | undefined;
  searches?: Partial<SearchLimits> | undefined;
  idempotency?: LogAppConfig['idempotency'];
  retentionBounds: RetentionBounds;
}

/**
 * Every module in one process (Loki's `-target=all`), each an encapsulated plugin exactly as it
 * runs alone. Only the wiring differs from the separate services, and each difference says why.
 */
export function buildAllInOneApp(deps: AllInOneDeps, config: AllInOneAppConfig): FastifyPluginAsync {
  // Auth runs as a hook on the same verifier and role matrix instead of a forward-auth hop:
  // there is no gateway in front of one process, so the token is checked where it arrives.
  const verified = verifiedIdentity(deps.verifier);
  const identity = deps.registry ? registeredIdentity(verified, deps.registry) : verified;
  return async (app) => {
    // One process has no gateway in front, so `/` is what a newcomer opens: it explains itself.
    await app.register(buildAuthApp({ verifier: deps.verifier }, { adminTenant: config.adminTenant, pythonRoot: false }));
    await app.register(rootRoute);
    await app.register(
      buildTenantApp(
        { tenants: deps.tenants, identity, hasEvents: hasEventsIn(deps.logs), registry: deps.registry, retention: deps.retention },
        config,
      ),
    );
    await app.register(
      buildLogApp(
        {
          store: deps.logs,
          queue: deps.queue,
          feed: deps.feed,
          streamLog: deps.streamLog,
          cursors: deps.cursors,
          identity,
          idempotency: deps.idempotency,
          metrics: deps.metrics,
          integrity: deps.integrity,
          analytics: deps.analytics,
          streams: deps.streams,
          copies: deps.copies,
        },
        {
          adminTenant: config.adminTenant,
          stream: config.stream,
          rateLimit: config.rateLimit,
          exports: config.exports,
          searches: config.searches,
          idempotency: config.idempotency,
        },
      ),
    );
    // Counts across every tenant stay off the public surface here (docs/auth.md "Public routes"):
    // /stats and /metrics answer the platform admin, where the separate services serve them on
    // their own ports, which the gateway does not route.
    await app.register(async (ops) => {
      requireAuth(ops, identity, config.adminTenant);
      await ops.register(buildLogWorkerApp({ stats: deps.workerStats }, { audience: PLATFORM_ADMIN }));
      const { metrics } = deps;
      if (metrics) ops.get('/metrics', { config: { audience: PLATFORM_ADMIN }, schema: { hide: true } }, metricsHandler(metrics));
    });
  };
}
