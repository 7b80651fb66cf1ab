import { exportConfig, idempotencyConfig, rateLimitConfig, searchConfig, streamConfig } from '@logserver/log/config';
import {
  authConfig,
  booleanFromEnv,
  integrityConfig,
  listenConfig,
  queueConfig,
  requireMongoUri,
  storeConfig,
} from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const AllInOneConfig = requireMongoUri(
  z.object({
    ...listenConfig(8080),
    ...authConfig,
    ...storeConfig,
    ...queueConfig,
    ...streamConfig,
    ...rateLimitConfig,
    ...exportConfig,
    ...searchConfig,
    ...idempotencyConfig,
    ...integrityConfig,
    /** Print the banner's tokens when stdout is not a terminal (a container's log); off by default. */
    BANNER_TOKENS: booleanFromEnv(false),
    DEMO_TENANT: z
      .string()
      .regex(/^[a-z0-9_-]+$/)
      .default('demo'),
  }),
);
export type AllInOneConfig = z.infer<typeof AllInOneConfig>;
