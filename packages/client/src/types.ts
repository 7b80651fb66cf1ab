import type {
  CheckpointSchema,
  ConsistencySchema,
  DigestSchema,
  JwksSchema,
  ProofSchema,
  VerifyReportSchema,
} from '@logserver/shared/schemas/integrity-responses';
import type { LogEventInput, LogEvent as LogEventSchema } from '@logserver/shared/schemas/log-event';
import type { ExportFormat, ListLogsQuery, StatsQuery } from '@logserver/shared/schemas/log-query';
import type { z } from 'zod';

// Types only: they come from the server's own zod schemas, so the client cannot drift from the
// API, and nothing of the server (node:crypto, zod) is bundled into a browser build.

/** A stored event, as the API answers it. */
export type LogEvent = z.infer<typeof LogEventSchema>;
/** What a client sends: severity defaults to INFO, timestamp to now; event_id makes the event idempotent. */
export type NewLogEvent = z.input<typeof LogEventInput>;
export type Proof = z.infer<typeof ProofSchema>;
export type Digest = z.infer<typeof DigestSchema>;
/** A signed tree head of the tenant's tree: a C2SP tlog-checkpoint note with its fields. */
export type Checkpoint = z.infer<typeof CheckpointSchema>;
export type Consistency = z.infer<typeof ConsistencySchema>;
/** The log's signing keys over time with their validity windows (GET /api/v1/integrity/keys). */
export type Jwks = z.infer<typeof JwksSchema>;
export type VerifyReport = z.infer<typeof VerifyReportSchema>;
export type { ExportFormat };

type FilterKeys =
  | 'action'
  | 'resource_type'
  | 'resource_id'
  | 'user_id'
  | 'ip_address'
  | 'user_agent'
  | 'from'
  | 'to'
  | 'timestamp'
  | 'search';

/** Filters of list, export, stats and the stream (README "Filters"); severity as a list or a comma list. */
export type LogFilter = Partial<Pick<z.input<typeof ListLogsQuery>, FilterKeys>> & {
  severity?: string | readonly ('INFO' | 'WARNING' | 'ERROR' | 'CRITICAL')[] | undefined;
};

export type StatsOptions = LogFilter & Partial<Pick<z.input<typeof StatsQuery>, 'group_by' | 'interval'>>;

export interface Stats {
  data: Record<string, unknown>;
  meta: Record<string, unknown> | undefined;
}
