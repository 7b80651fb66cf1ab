import { authConfig, listenConfig, queueConfig, requireMongoUri, storeConfig } from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const LogConfig = requireMongoUri(z.object({ ...listenConfig(8082), ...authConfig, ...storeConfig, ...queueConfig }));
export type LogConfig = z.infer<typeof LogConfig>;
