import { z } from 'zod';
import { LogEvent } from './log-event.js';

/** Response shapes of the tamper-evidence routes (docs/tamper-evidence.md), for /docs and the serializer. */
export const DigestLeavesSchema = z.object({ ids: z.array(z.string()), hashes: z.array(z.string()) });

export const DigestSchema = z.object({
  version: z.number().int(),
  tenant_id: z.string(),
  seq: z.number().int().describe('1, 2, 3, … per tenant'),
  count: z.number().int(),
  first_event_id: z.string(),
  last_event_id: z.string(),
  first_position: z.string(),
  last_position: z.string(),
  merkle_root: z.string().describe('RFC 6962 root over the event hashes in commit order, hex'),
  prev_hash: z.string().nullable().describe("the previous digest's hash; null for the first"),
  sealed_at: z.string(),
  key_id: z.string(),
  hash: z.string().describe('SHA-256 of the RFC 8785 JSON of the fields above, hex'),
  signature: z.string().describe('Ed25519 over the same bytes, base64'),
  leaves: DigestLeavesSchema.nullable().optional().describe('with leaves=true: the sealed event ids and hashes, in order'),
});

export const PublicKeySchema = z.object({
  algorithm: z.literal('Ed25519'),
  key_id: z.string(),
  public_key_pem: z.string(),
  event_hash: z.string(),
  digest_hash: z.string(),
  merkle_tree: z.string(),
});

export const ProofSchema = z.object({
  event: LogEvent,
  algorithm: z.literal('RFC6962-SHA256'),
  digest: DigestSchema,
  leaf_index: z.number().int(),
  tree_size: z.number().int(),
  path: z.array(z.string()).describe('sibling hashes from the leaf up, hex'),
});

const Problem = z.object({
  kind: z.enum(['changed', 'removed', 'inserted', 'reordered']),
  event_id: z.string(),
  digest_seq: z.number().int().nullable(),
  detail: z.string(),
});

export const VerifyReportSchema = z.object({
  status: z.enum(['intact', 'tampered']),
  digests_checked: z.number().int(),
  events_sealed: z.number().int(),
  events_verified: z.number().int(),
  events_unsealed: z.number().int(),
  deleted_by_cleanup: z.number().int(),
  cleanups: z.array(
    z.object({
      cleanup_id: z.number().int(),
      deleted_at: z.string(),
      before: z.string().nullable(),
      deleted_count: z.number().int(),
      audit_event_id: z.string().nullable(),
    }),
  ),
  problems: z.object({ changed: z.number().int(), removed: z.number().int(), inserted: z.number().int(), reordered: z.number().int() }),
  first_problem: Problem.nullable(),
  problem_samples: z.array(Problem),
  chain: z.object({ intact: z.boolean(), first_break: z.object({ digest_seq: z.number().int(), reason: z.string() }).nullable() }),
});

export const DigestsMeta = z.object({ total: z.number().int(), page: z.number().int(), size: z.number().int(), pages: z.number().int() });
