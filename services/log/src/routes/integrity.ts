import { AUDITORS, EVERY_ROLE, READERS } from '@logserver/shared/auth/rbac';
import { Conflict, NotFound, NotSealed, ValidationFailed } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import { type ParsedVerifierKey, splitNote, verifyCosignature } from '@logserver/shared/integrity/checkpoint';
import { IntegrityGate } from '@logserver/shared/integrity/integrity-gate';
import type { KeyRing } from '@logserver/shared/integrity/keyring';
import type { Checkpoint, IntegrityStore } from '@logserver/shared/integrity/port';
import { proveInclusion } from '@logserver/shared/integrity/proof';
import type { SigningKey } from '@logserver/shared/integrity/signing-key';
import { checkpointOrLatest, proveConsistency, proveInTree } from '@logserver/shared/integrity/tree-proofs';
import { verifyTenantLog } from '@logserver/shared/integrity/verify';
import {
  CheckpointParams,
  CheckpointsQuery,
  ConsistencyQuery,
  DigestsQuery,
  ProofQuery,
  VerifyQuery,
} from '@logserver/shared/schemas/integrity-query';
import {
  CheckpointSchema,
  ConsistencySchema,
  CosignatureBody,
  DigestSchema,
  DigestsMeta,
  JwksSchema,
  ProofSchema,
  PublicKeySchema,
  VerifyReportSchema,
} from '@logserver/shared/schemas/integrity-responses';
import { LogIdParams } from '@logserver/shared/schemas/log-query';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import type { LogStore } from '@logserver/shared/store/port';
import { type TenantId, tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface IntegrityDeps {
  store: IntegrityStore;
  /** The log's keys over time; asked per request, so a rotation shows without a restart. */
  keys: () => KeyRing;
  /** Witnesses whose cosignatures are stored (INTEGRITY_WITNESS_KEYS). */
  witnesses?: readonly ParsedVerifierKey[];
  /** Seconds between seals, told to a caller whose event is not sealed yet. */
  sealIntervalSeconds: number;
  /** Bounds what proof, consistency, verify and export-manifest requests hold (DESIGN §9); one per app by default. */
  gate?: IntegrityGate;
  /** The log's signing key, where this process holds it (the all-in-one): export manifests are then signed. */
  signer?: { key: () => SigningKey; name: string } | undefined;
}

/** What the proof route reads besides the integrity store: the event itself. */
export interface IntegrityRouteDeps {
  store: Pick<LogStore, 'get'>;
}

/** What a checkpoint looks like to a client: the stored record without the compact range, with its cosignatures. */
export async function presentCheckpoint(store: IntegrityStore, tenant: TenantId, checkpoint: Checkpoint) {
  const cosignatures = await store.cosignatures(tenant, checkpoint.tree_size);
  const { frontier: _frontier, first_position: _first, last_position: _last, ...shown } = checkpoint;
  const signedNote = cosignatures.length === 0 ? checkpoint.note : `${checkpoint.note.slice(0, -1)}\n${cosignatures.join('\n')}\n`;
  return { ...shown, signed_note: signedNote, cosignatures };
}

/** Tamper evidence (docs/tamper-evidence.md): keys, checkpoints, proofs, consistency, cosignatures and verify. */
export function integrityRoutes(deps: IntegrityRouteDeps, integrity: IntegrityDeps): FastifyPluginAsyncZod {
  const gate = integrity.gate ?? new IntegrityGate();
  const witnesses = integrity.witnesses ?? [];
  return async (app) => {
    app.get(
      '/api/v1/integrity/keys',
      {
        config: { audience: EVERY_ROLE },
        schema: {
          tags: ['integrity'],
          summary: 'The keys that sign checkpoints, with their validity windows, as a JWKS (RFC 7517, OKP/Ed25519 per RFC 8037)',
          description:
            'Not in the envelope, so JWKS clients read it as it is. A checkpoint verifies only under the key its key_id names and only if its time is inside that key’s [not_before, not_after) window.',
          response: { 200: JwksSchema, ...errorResponses(401, 403) },
        },
      },
      async (_request, reply) => {
        reply.type('application/jwk-set+json');
        return integrity.keys().toJwks();
      },
    );

    app.get(
      '/api/v1/integrity/public-key',
      {
        config: { audience: EVERY_ROLE },
        schema: {
          tags: ['integrity'],
          summary: 'The current Ed25519 signing key (see /integrity/keys for every key over time)',
          response: { 200: okEnvelope(PublicKeySchema), ...errorResponses(401, 403) },
        },
      },
      async () => {
        const ring = integrity.keys();
        const current = ring.keys.findLast((key) => key.notAfter === null) ?? (ring.keys.at(-1) as (typeof ring.keys)[number]);
        return ok({
          algorithm: 'Ed25519' as const,
          key_id: current.kid,
          public_key_pem: current.key.export({ type: 'spki', format: 'pem' }).toString(),
          event_hash: 'SHA-256 of the event as RFC 8785 (JCS) JSON without "hash"',
          digest_hash:
            'checkpoints: C2SP tlog-checkpoint signed notes; digest-v1 digests: SHA-256 of the RFC 8785 JSON without "hash" and "signature"',
          merkle_tree: 'RFC 9162 over the leaves SHA-256(0x00 || RFC 8785 {"hash","timestamp"}) in commit order, one tree per tenant',
        });
      },
    );

    app.get(
      '/api/v1/integrity/checkpoints',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: "The caller's tenant's signed checkpoints, oldest first, with cosignatures",
          querystring: CheckpointsQuery,
          response: { 200: okEnvelope(z.array(CheckpointSchema), DigestsMeta), ...errorResponses(401, 403, 422, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        const { page, size } = request.query;
        const total = await integrity.store.checkpointCount(tenant);
        // Checkpoint sizes are not dense, so a page is found by walking sizes: skip (page - 1) * size of them.
        let after = 0;
        for (let skip = (page - 1) * size; skip > 0; ) {
          const step = await integrity.store.checkpoints(tenant, after, Math.min(skip, 1000));
          if (step.length === 0) break;
          after = (step.at(-1) as Checkpoint).tree_size;
          skip -= step.length;
        }
        const list = await integrity.store.checkpoints(tenant, after, size);
        const data = await Promise.all(
          list.map(async (checkpoint) => {
            const shown = await presentCheckpoint(integrity.store, tenant, checkpoint);
            if (request.query.leaves !== 'true') return shown;
            // The leaves and the tombstones among them: what scripts/verify-offline.mjs rebuilds the tree from.
            const leaves = (await integrity.store.checkpointLeaves(tenant, checkpoint.tree_size)) ?? { ids: [], hashes: [] };
            const tombstones = [...(await integrity.store.tombstones(tenant, leaves.ids)).values()].map((tomb) => ({
              event_id: tomb.event_id,
              event_hash: tomb.event_hash,
              timestamp: tomb.timestamp,
              cleanup_id: tomb.cleanup.cleanup_id,
              cleanup_before: tomb.cleanup.before,
              cleanup_deleted_count: tomb.cleanup.deleted_count,
              cleanup_audit_event_id: tomb.cleanup.audit_event_id,
            }));
            return { ...shown, leaves: { ...leaves, tombstones } };
          }),
        );
        return ok(data, { total, page, size, pages: Math.ceil(total / size) });
      },
    );

    app.get(
      '/api/v1/integrity/checkpoints/latest',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: "The caller's tenant's newest checkpoint",
          response: { 200: okEnvelope(CheckpointSchema), ...errorResponses(401, 403, 404, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        return ok(await presentCheckpoint(integrity.store, tenant, await checkpointOrLatest(integrity.store, tenant, undefined)));
      },
    );

    app.get(
      '/api/v1/integrity/consistency',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: 'RFC 9162 consistency proof that the tree of size `to` (default: the newest checkpoint) extends the tree of size `from`',
          description: '`to` must be the size of a checkpoint; `from` any size up to it.',
          querystring: ConsistencyQuery,
          response: { 200: okEnvelope(ConsistencySchema), ...errorResponses(401, 403, 404, 409, 422, 429, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        const proof = await gate.run(tenant, () => proveConsistency(integrity.store, tenant, request.query.from, request.query.to));
        return ok({ ...proof, checkpoint: await presentCheckpoint(integrity.store, tenant, proof.checkpoint) });
      },
    );

    app.post(
      '/api/v1/integrity/checkpoints/:size/cosignatures',
      {
        config: { audience: AUDITORS },
        schema: {
          tags: ['integrity'],
          summary: 'Store a witness cosignature (C2SP tlog-cosignature) of the checkpoint of this size',
          description: 'Accepted only from a witness key in INTEGRITY_WITNESS_KEYS, over exactly this checkpoint.',
          params: CheckpointParams,
          body: CosignatureBody,
          response: {
            200: okEnvelope(z.object({ tree_size: z.number().int(), witness: z.string() })),
            ...errorResponses(401, 403, 404, 422),
          },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        const checkpoint = await checkpointOrLatest(integrity.store, tenant, request.params.size);
        const body = splitNote(checkpoint.note)?.body as string;
        const line = request.body.cosignature.trim();
        const witness = witnesses.find((candidate) => verifyCosignature(body, line, candidate) !== null);
        if (!witness) {
          throw new ValidationFailed([
            {
              loc: ['body', 'cosignature'],
              msg:
                witnesses.length === 0
                  ? 'no witness keys are configured on this server (INTEGRITY_WITNESS_KEYS)'
                  : 'not a valid cosignature of this checkpoint by a configured witness',
              type: 'value_error',
            },
          ]);
        }
        await integrity.store.addCosignature(tenant, checkpoint.tree_size, witness.name, line);
        return ok({ tree_size: checkpoint.tree_size, witness: witness.name });
      },
    );

    app.get(
      '/api/v1/integrity/digests',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: "The caller's tenant's digest-v1 digests (data sealed before checkpoints), oldest first",
          querystring: DigestsQuery,
          response: { 200: okEnvelope(z.array(DigestSchema), DigestsMeta), ...errorResponses(401, 403, 422, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        const { page, size, leaves } = request.query;
        // Digest seqs run 1, 2, 3, … per tenant, so a page starts right after seq (page - 1) * size.
        const digests = await integrity.store.digests(tenant, (page - 1) * size, size);
        const total = await integrity.store.digestCount(tenant);
        const data =
          leaves === 'true'
            ? await Promise.all(
                digests.map(async (digest) => ({ ...digest, leaves: await integrity.store.digestLeaves(tenant, digest.seq) })),
              )
            : digests;
        return ok(data, { total, page, size, pages: Math.ceil(total / size) });
      },
    );

    app.get(
      '/api/v1/logs/verify',
      {
        config: { audience: AUDITORS },
        schema: {
          tags: ['integrity'],
          summary: "Recompute the caller's tenant's log against its checkpoints (and digest-v1 digests)",
          querystring: VerifyQuery,
          response: { 200: okEnvelope(VerifyReportSchema), ...errorResponses(401, 403, 422, 429, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        return ok(await gate.run(tenant, () => verifyTenantLog(integrity.store, integrity.keys(), tenant, request.query)));
      },
    );

    app.get(
      '/api/v1/logs/:id/proof',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: 'An event, its leaf and its RFC 9162 inclusion proof against a checkpoint (default: the newest)',
          description:
            '`checkpoint=<tree size>` proves against that checkpoint. 409 while the event is not sealed yet, or when the checkpoint is older than the event.',
          params: LogIdParams,
          querystring: ProofQuery,
          response: { 200: okEnvelope(ProofSchema), ...errorResponses(401, 403, 404, 409, 422, 429, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        const event = await deps.store.get(tenant, request.params.id);
        if (!event) throw new NotFound('Log');
        return gate.run(tenant, async () => {
          const inTree = await proveInTree(integrity.store, tenant, event.id, request.query.checkpoint);
          if (inTree !== null)
            return ok({ event, ...inTree, checkpoint: await presentCheckpoint(integrity.store, tenant, inTree.checkpoint) });
          // Sealed before checkpoints (digest-v1 data): its digest's proof, as before.
          const legacy = await proveInclusion(integrity.store, tenant, event.id);
          if (legacy !== null) {
            if (request.query.checkpoint !== undefined) throw new Conflict('this log was sealed by a digest-v1 digest, before checkpoints');
            return ok({ event, ...legacy });
          }
          const when =
            integrity.sealIntervalSeconds > 0
              ? `checkpoints are signed every ${integrity.sealIntervalSeconds} s`
              : 'sealing is off on this server';
          throw new NotSealed(event.id, when);
        });
      },
    );
  };
}
