import { authConfig, listenConfig, requireAuthSecret, requireMongoUri, storeConfig } from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const TenantConfig = z.object({ ...listenConfig(8083), ...authConfig, ...storeConfig }).superRefine((config, ctx) => {
  requireAuthSecret(config, ctx);
  requireMongoUri(config, ctx);
});
export type TenantConfig = z.infer<typeof TenantConfig>;
