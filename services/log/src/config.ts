import {
  analyticsConfig,
  authConfig,
  dependencyConfig,
  gatewayConfig,
  integrityCommonConfig,
  listenConfig,
  optionalString,
  queueConfig,
  refuseEmbeddedAnalytics,
  requireClickHouseUrl,
  requireMongoUri,
  storeConfig,
} from '@logserver/shared/config/schemas';
import { corsConfig } from '@logserver/shared/http/cors';
import { streamsConfig } from '@logserver/shared/streams/config';
import { z } from 'zod';
import { DEFAULT_EXPORT_LIMITS, type ExportLimits } from './export/export-slots.js';
import { DEFAULT_IDEMPOTENCY, type IdempotencySettings } from './idempotent-ingest.js';
import { DEFAULT_SEARCH_LIMITS, type SearchLimits } from './search/search-slots.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './stream/limits.js';
import { DEFAULT_RATE_LIMIT, type TenantRateLimit } from './tenant-rate-limit.js';

/**
 * Per-tenant request rate limit of the log API; the all-in-one server reads the same variables.
 * On by default, high enough for thousands of requests a second from one tenant, low enough that
 * one runaway client cannot starve the rest.
 */
export const rateLimitConfig = {
  RATE_LIMIT_PER_TENANT: z.coerce.number().int().min(0).default(DEFAULT_RATE_LIMIT.perTenant),
  RATE_LIMIT_WINDOW: z.coerce.number().int().min(1).max(86_400).default(DEFAULT_RATE_LIMIT.windowSeconds),
};

export function rateLimitFrom(config: { RATE_LIMIT_PER_TENANT: number; RATE_LIMIT_WINDOW: number }): TenantRateLimit {
  return { perTenant: config.RATE_LIMIT_PER_TENANT, windowSeconds: config.RATE_LIMIT_WINDOW };
}

/** Idempotent ingest (README "Idempotent ingest"); the all-in-one server reads the same variables. */
export const idempotencyConfig = {
  IDEMPOTENCY_TTL: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(DEFAULT_IDEMPOTENCY.ttlSeconds),
  IDEMPOTENCY_LEASE: z.coerce.number().int().min(1).max(3_600).default(DEFAULT_IDEMPOTENCY.leaseSeconds),
  IDEMPOTENCY_MAX_KEYS_PER_TENANT: z.coerce.number().int().min(1).max(100_000_000).default(DEFAULT_IDEMPOTENCY.maxKeysPerTenant),
};

export function idempotencyFrom(config: {
  IDEMPOTENCY_TTL: number;
  IDEMPOTENCY_LEASE: number;
  IDEMPOTENCY_MAX_KEYS_PER_TENANT: number;
}): IdempotencySettings {
  return {
    ttlSeconds: config.IDEMPOTENCY_TTL,
    leaseSeconds: config.IDEMPOTENCY_LEASE,
    maxKeysPerTenant: config.IDEMPOTENCY_MAX_KEYS_PER_TENANT,
  };
}

/** The live stream's limits from the environment; the all-in-one server reads the same variables. */
export const streamConfig = {
  STREAM_MAX_CONNECTIONS_PER_TENANT: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_STREAM_LIMITS.maxConnectionsPerTenant),
  STREAM_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_STREAM_LIMITS.maxConnections),
  /**
   * Seals stream cursors; AUTH_SECRET when unset (or blank, as the base k8s Secret leaves it). Every
   * replica a client may reconnect to needs the same one.
   */
  STREAM_CURSOR_KEY: optionalString.pipe(z.string().min(16, 'STREAM_CURSOR_KEY must be at least 16 characters').optional()),
  STREAM_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(DEFAULT_STREAM_LIMITS.bufferBytes),
  STREAM_PING_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(DEFAULT_STREAM_LIMITS.pingIntervalMs),
};

export function streamLimits(config: {
  STREAM_MAX_CONNECTIONS_PER_TENANT: number;
  STREAM_MAX_CONNECTIONS: number;
  STREAM_BUFFER_BYTES: number;
  STREAM_PING_INTERVAL_MS: number;
}): StreamLimits {
  return {
    maxConnectionsPerTenant: config.STREAM_MAX_CONNECTIONS_PER_TENANT,
    maxConnections: config.STREAM_MAX_CONNECTIONS,
    bufferBytes: config.STREAM_BUFFER_BYTES,
    pingIntervalMs: config.STREAM_PING_INTERVAL_MS,
  };
}

/** Export bounds (README "Export"): concurrent exports per tenant and per replica, idle cut-off. */
export const exportConfig = {
  EXPORT_MAX_PER_TENANT: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_EXPORT_LIMITS.perTenant),
  EXPORT_MAX_CONCURRENT: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_EXPORT_LIMITS.perProcess),
  EXPORT_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(DEFAULT_EXPORT_LIMITS.idleTimeoutMs),
};

export function exportLimits(config: {
  EXPORT_MAX_PER_TENANT: number;
  EXPORT_MAX_CONCURRENT: number;
  EXPORT_IDLE_TIMEOUT_MS: number;
}): ExportLimits {
  return {
    perTenant: config.EXPORT_MAX_PER_TENANT,
    perProcess: config.EXPORT_MAX_CONCURRENT,
    idleTimeoutMs: config.EXPORT_IDLE_TIMEOUT_MS,
  };
}

/**
 * The tamper-evidence routes need only the public key: the API-facing service never holds the
 * signing key (the log-worker seals). SEAL_INTERVAL here is only what a 409 tells the caller.
 */
/** Scanning searches (docs/api.md "Search"): list and stats requests with search or user_agent running at once. */
export const searchConfig = {
  SEARCH_MAX_PER_TENANT: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_SEARCH_LIMITS.perTenant),
  SEARCH_MAX_CONCURRENT: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_SEARCH_LIMITS.perProcess),
};

export function searchLimits(config: { SEARCH_MAX_PER_TENANT: number; SEARCH_MAX_CONCURRENT: number }): SearchLimits {
  return { perTenant: config.SEARCH_MAX_PER_TENANT, perProcess: config.SEARCH_MAX_CONCURRENT };
}

export const integrityRoutesConfig = {
  ...integrityCommonConfig,
  INTEGRITY_PUBLIC_KEY: optionalString,
};

export const LogConfig = refuseEmbeddedAnalytics(
  requireClickHouseUrl(
    requireMongoUri(
      z.object({
        ...listenConfig(8082),
        ...authConfig,
        ...gatewayConfig,
        ...storeConfig,
        ...queueConfig,
        ...streamConfig,
        ...rateLimitConfig,
        ...exportConfig,
        ...searchConfig,
        ...idempotencyConfig,
        ...integrityRoutesConfig,
        ...dependencyConfig,
        ...corsConfig,
        ...analyticsConfig,
        ...streamsConfig,
      }),
    ),
  ),
);
export type LogConfig = z.infer<typeof LogConfig>;
