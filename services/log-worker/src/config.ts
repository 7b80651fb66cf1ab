import {
  analyticsConfig,
  dependencyConfig,
  integrityConfig,
  listenConfig,
  queueConfig,
  refuseEmbeddedAnalytics,
  requireClickHouseUrl,
  requireMongoUri,
  storeConfig,
} from '@logserver/shared/config/schemas';
import { retentionJobConfig } from '@logserver/shared/retention/config';
import { streamsConfig } from '@logserver/shared/streams/config';
import { z } from 'zod';

export const LogWorkerConfig = refuseEmbeddedAnalytics(
  requireClickHouseUrl(
    requireMongoUri(
      z.object({
        ...listenConfig(8084),
        ...storeConfig,
        ...queueConfig,
        ...integrityConfig,
        ...dependencyConfig,
        ...analyticsConfig,
        ...retentionJobConfig,
        ...streamsConfig,
      }),
    ),
  ),
);
export type LogWorkerConfig = z.infer<typeof LogWorkerConfig>;
