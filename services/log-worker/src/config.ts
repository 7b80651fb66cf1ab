import { listenConfig, queueConfig, requireMongoUri, storeConfig } from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const LogWorkerConfig = z.object({ ...listenConfig(8084), ...storeConfig, ...queueConfig }).superRefine(requireMongoUri);
export type LogWorkerConfig = z.infer<typeof LogWorkerConfig>;
