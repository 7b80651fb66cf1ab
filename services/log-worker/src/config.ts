import {
  dependencyConfig,
  integrityConfig,
  listenConfig,
  queueConfig,
  requireMongoUri,
  storeConfig,
} from '@logserver/shared/config/schemas';
import { z } from 'zod';

export const LogWorkerConfig = requireMongoUri(
  z.object({ ...listenConfig(8084), ...storeConfig, ...queueConfig, ...integrityConfig, ...dependencyConfig }),
);
export type LogWorkerConfig = z.infer<typeof LogWorkerConfig>;
