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

export const CheckpointSchema = z.object({
  tenant_id: z.string(),
  origin: z.string().describe('the log origin, first line of the note: <INTEGRITY_ORIGIN>/<tenant>'),
  tree_size: z.number().int(),
  root_hash: z.string().describe('RFC 9162 root of the tenant tree at tree_size, hex'),
  time: z.string(),
  key_id: z.string().describe('kid of the signing key in GET /api/v1/integrity/keys'),
  note: z.string().describe('the C2SP tlog-checkpoint signed note, as signed by the log'),
  signed_note: z.string().describe('the note with every stored witness cosignature line appended'),
  cosignatures: z.array(z.string()),
  count: z.number().int().describe('leaves this checkpoint added: [tree_size - count, tree_size)'),
  first_event_id: z.string(),
  last_event_id: z.string(),
  leaves: z
    .object({
      ids: z.array(z.string()),
      hashes: z.array(z.string()),
      tombstones: z.array(
        z.object({
          event_id: z.string(),
          event_hash: z.string().nullable(),
          timestamp: z.string().nullable(),
          cleanup_id: z.number().int(),
          cleanup_before: z.string().nullable(),
          cleanup_deleted_count: z.number().int(),
          cleanup_audit_event_id: z.string().nullable(),
        }),
      ),
    })
    .optional()
    .describe('with leaves=true: the leaves this checkpoint added (event ids, leaf hashes) and the tombstones among them'),
});

export const JwksSchema = z.object({
  keys: z.array(
    z.object({
      kty: z.literal('OKP'),
      crv: z.literal('Ed25519'),
      x: z.string(),
      kid: z.string(),
      use: z.literal('sig'),
      alg: z.literal('EdDSA'),
      not_before: z.string().nullable(),
      not_after: z.string().nullable(),
      note_key: z.string().describe('the same key as a signed-note verifier key (name+hash+key)'),
    }),
  ),
});

export const ConsistencySchema = z.object({
  from: z.number().int(),
  to: z.number().int(),
  proof: z.array(z.string()).describe('RFC 9162 §2.1.4 consistency proof, hex'),
  checkpoint: CheckpointSchema.describe('the checkpoint of size `to`'),
});

export const CosignatureBody = z.strictObject({
  cosignature: z.string().min(1).max(1000).describe('one C2SP tlog-cosignature line: "— <witness name> <base64>"'),
});

export const ProofSchema = z.object({
  event: LogEvent,
  algorithm: z.enum(['RFC9162-SHA256', 'RFC6962-SHA256']).describe('RFC9162-SHA256: the tenant tree; RFC6962-SHA256: a digest-v1 digest'),
  leaf_index: z.number().int(),
  tree_size: z.number().int(),
  path: z.array(z.string()).describe('sibling hashes from the leaf up, hex'),
  leaf_hash: z.string().optional().describe('tree proofs: SHA-256(0x00 || RFC 8785 {"hash","timestamp"}), hex'),
  checkpoint: CheckpointSchema.optional(),
  digest: DigestSchema.optional().describe('digest-v1 data only'),
});

const Problem = z.object({
  kind: z.enum(['changed', 'removed', 'inserted', 'reordered']),
  event_id: z.string(),
  digest_seq: z.number().int().nullable(),
  leaf_index: z.number().int().nullable().optional(),
  detail: z.string(),
});

export const VerifyReportSchema = z.object({
  status: z.enum(['intact', 'tampered']),
  digests_checked: z.number().int(),
  events_sealed: z.number().int(),
  events_verified: z.number().int(),
  events_unsealed: z.number().int(),
  deleted_by_cleanup: z.number().int(),
  deleted_by_policy: z.number().int().describe('of deleted_by_cleanup, the events the retention policy deleted'),
  cleanups: z.array(
    z.object({
      cleanup_id: z.number().int(),
      deleted_at: z.string(),
      before: z.string().nullable(),
      deleted_count: z.number().int(),
      audit_event_id: z.string().nullable(),
      by: z.enum(['request', 'policy']).describe('request: DELETE /api/v1/logs/cleanup; policy: the retention job'),
    }),
  ),
  problems: z.object({ changed: z.number().int(), removed: z.number().int(), inserted: z.number().int(), reordered: z.number().int() }),
  first_problem: Problem.nullable(),
  problem_samples: z.array(Problem),
  chain: z.object({ intact: z.boolean(), first_break: z.object({ digest_seq: z.number().int(), reason: z.string() }).nullable() }),
  checkpoints_checked: z.number().int(),
  tree_size: z.number().int(),
  tree: z.object({ intact: z.boolean(), first_break: z.object({ tree_size: z.number().int(), reason: z.string() }).nullable() }),
  cleanup_problems: z.array(z.object({ cleanup_id: z.number().int(), reason: z.string() })),
});

export const DigestsMeta = z.object({ total: z.number().int(), page: z.number().int(), size: z.number().int(), pages: z.number().int() });
