import { idempotencyConfig, rateLimitConfig, streamConfig } from '@logserver/log/config';
import { authConfig, integrityConfig, listenConfig, queueConfig, requireMongoUri, storeConfig } from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const AllInOneConfig = requireMongoUri(
  z.object({
    ...listenConfig(8080),
    ...authConfig,
    ...storeConfig,
    ...queueConfig,
    ...streamConfig,
    ...rateLimitConfig,
    ...idempotencyConfig,
    ...integrityConfig,
    DEMO_TENANT: z
      .string()
      .regex(/^[a-z0-9_-]+$/)
      .default('demo'),
  }),
);
export type AllInOneConfig = z.infer<typeof AllInOneConfig>;
