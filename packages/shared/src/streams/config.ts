import { z } from 'zod';
import { optionalString } from '../config/schemas.js';
import { parseAllowList } from './address-policy.js';
import { parseSecretKey, parseSecretKeys } from './secret-box.js';

/**
 * Log streams (docs/streams.md): where a tenant's events are copied as they are stored. Every
 * bound here is per destination, per tenant or per process (DESIGN §9), and docs/streams.md
 * "Bounds" says what each one holds.
 */
export const streamsConfig = {
  /** AES-256-GCM key for destination secrets: 32 bytes as base64 or 64 hex digits. Unset: streams are off (the all-in-one makes one). */
  STREAM_SECRET_KEY: optionalString.pipe(
    z
      .string()
      .refine((value) => parseSecretKey(value) !== null, 'must be 32 bytes as base64 (44 characters) or hex (64 digits)')
      .optional(),
  ),
  /** Keys a rotation retired, comma-separated: they still open secrets (and those are sealed again under the current key); they never seal. */
  STREAM_SECRET_KEY_PREVIOUS: optionalString.pipe(
    z
      .string()
      .refine((value) => parseSecretKeys(value) !== null, 'must be a comma list of keys, each 32 bytes as base64 or hex')
      .optional(),
  ),
  /** Addresses destinations may use although they are loopback, private or link-local: IPs and CIDR ranges. */
  STREAM_DESTINATION_ALLOW: optionalString.pipe(
    z
      .string()
      .refine((value) => parseAllowList(value) !== null, 'must be a comma list of IP addresses or CIDR ranges (10.1.2.0/24, ::1)')
      .optional(),
  ),
  STREAM_MAX_DESTINATIONS_PER_TENANT: z.coerce.number().int().min(1).max(100).default(10),
  STREAM_BATCH_MAX_EVENTS: z.coerce.number().int().min(1).max(1000).default(500),
  STREAM_BATCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(5 * 1024 * 1024)
    .default(1024 * 1024),
  STREAM_MAX_ACTIVE: z.coerce.number().int().min(1).max(10_000).default(64),
  STREAM_RETRIES: z.coerce.number().int().min(0).max(100).default(8),
  STREAM_RETRY_MIN_MS: z.coerce.number().int().min(1).max(600_000).default(1000),
  STREAM_RETRY_MAX_MS: z.coerce.number().int().min(1).max(3_600_000).default(300_000),
  STREAM_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  STREAM_DLQ_MAX_BATCHES: z.coerce.number().int().min(1).max(100_000).default(1000),
  STREAM_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  STREAM_LEASE_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
};

export interface StreamSettings {
  maxDestinationsPerTenant: number;
  batchMaxEvents: number;
  batchMaxBytes: number;
  maxActive: number;
  retries: number;
  retryMinMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
  dlqMaxBatches: number;
  intervalMs: number;
  leaseMs: number;
}

const StreamsSchema = z.object(streamsConfig);
export type StreamsConfig = z.infer<typeof StreamsSchema>;

export const DEFAULT_STREAM_SETTINGS: StreamSettings = streamSettingsFrom(StreamsSchema.parse({}));

export function streamSettingsFrom(config: Omit<StreamsConfig, 'STREAM_SECRET_KEY' | 'STREAM_DESTINATION_ALLOW'>): StreamSettings {
  return {
    maxDestinationsPerTenant: config.STREAM_MAX_DESTINATIONS_PER_TENANT,
    batchMaxEvents: config.STREAM_BATCH_MAX_EVENTS,
    batchMaxBytes: config.STREAM_BATCH_MAX_BYTES,
    maxActive: config.STREAM_MAX_ACTIVE,
    retries: config.STREAM_RETRIES,
    retryMinMs: config.STREAM_RETRY_MIN_MS,
    retryMaxMs: Math.max(config.STREAM_RETRY_MAX_MS, config.STREAM_RETRY_MIN_MS),
    requestTimeoutMs: config.STREAM_REQUEST_TIMEOUT_MS,
    dlqMaxBatches: config.STREAM_DLQ_MAX_BATCHES,
    intervalMs: config.STREAM_INTERVAL_MS,
    leaseMs: config.STREAM_LEASE_MS,
  };
}
