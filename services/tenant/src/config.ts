import {
  authConfig,
  dependencyConfig,
  gatewayConfig,
  listenConfig,
  requireAuthSecret,
  requireMongoUri,
  storeConfig,
} from '@logserver/shared/config/schemas';
import { corsConfig } from '@logserver/shared/http/cors';
import { requireRetentionBounds, retentionBoundsConfig } from '@logserver/shared/retention/config';
import { z } from 'zod';

export const TenantConfig = requireRetentionBounds(
  requireMongoUri(
    requireAuthSecret(
      z.object({
        ...listenConfig(8083),
        ...authConfig,
        ...gatewayConfig,
        ...storeConfig,
        ...dependencyConfig,
        ...corsConfig,
        ...retentionBoundsConfig,
      }),
    ),
  ),
);
export type TenantConfig = z.infer<typeof TenantConfig>;
