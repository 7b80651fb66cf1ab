import { exportConfig, idempotencyConfig, rateLimitConfig, searchConfig, streamConfig } from '@logserver/log/config';
import {
  analyticsConfig,
  authConfig,
  booleanFromEnv,
  fromInvocationDir,
  integrityConfig,
  listenConfig,
  queueConfig,
  requireClickHouseUrl,
  requireMongoUri,
  storeConfig,
} from '@logserver/shared/config/schemas';
import { corsConfig } from '@logserver/shared/http/cors';
import { requireRetentionBounds, retentionBoundsConfig, retentionJobConfig } from '@logserver/shared/retention/config';
import { streamsConfig } from '@logserver/shared/streams/config';
import { z } from 'zod';

export const AllInOneConfig = requireRetentionBounds(
  requireClickHouseUrl(
    requireMongoUri(
      z.object({
        // Loopback unless told otherwise: /metrics and the worker's /stats answer without a token.
        ...listenConfig(8080, '127.0.0.1'),
        ...authConfig,
        ...storeConfig,
        DATA_DIR: storeConfig.DATA_DIR.transform((path) => fromInvocationDir(path)),
        SQLITE_PATH: storeConfig.SQLITE_PATH.transform((path) => (path === undefined ? undefined : fromInvocationDir(path))),
        ...queueConfig,
        ...streamConfig,
        ...rateLimitConfig,
        ...exportConfig,
        ...searchConfig,
        ...idempotencyConfig,
        ...integrityConfig,
        ...corsConfig,
        ...analyticsConfig,
        ...retentionBoundsConfig,
        ...retentionJobConfig,
        ...streamsConfig,
        /** Print the banner's tokens when stdout is not a terminal (a container's log); off by default. */
        BANNER_TOKENS: booleanFromEnv(false),
        DEMO_TENANT: z
          .string()
          .regex(/^[a-z0-9_-]+$/)
          .default('demo'),
      }),
    ),
  ),
);
export type AllInOneConfig = z.infer<typeof AllInOneConfig>;
