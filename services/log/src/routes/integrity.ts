import { AUDITORS, EVERY_ROLE, READERS } from '@logserver/shared/auth/rbac';
import { NotFound, NotSealed } from '@logserver/shared/errors/catalogue';
import { ok } from '@logserver/shared/http/envelope';
import type { IntegrityStore } from '@logserver/shared/integrity/port';
import { proveInclusion } from '@logserver/shared/integrity/proof';
import { verifyingKeyFromPem } from '@logserver/shared/integrity/signing-key';
import { verifyTenantLog } from '@logserver/shared/integrity/verify';
import { DigestsQuery, VerifyQuery } from '@logserver/shared/schemas/integrity-query';
import { DigestSchema, DigestsMeta, ProofSchema, PublicKeySchema, VerifyReportSchema } from '@logserver/shared/schemas/integrity-responses';
import { LogIdParams } from '@logserver/shared/schemas/log-query';
import { errorResponses, okEnvelope } from '@logserver/shared/schemas/responses';
import type { LogStore } from '@logserver/shared/store/port';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface IntegrityDeps {
  store: IntegrityStore;
  publicKeyPem: string;
  /** Seconds between seals, told to a caller whose event is not sealed yet. */
  sealIntervalSeconds: number;
}

/** What the proof route reads besides the integrity store: the event itself. */
export interface IntegrityRouteDeps {
  store: Pick<LogStore, 'get'>;
}

/** Tamper evidence (docs/tamper-evidence.md): the public key, the digests, inclusion proofs and verify. */
export function integrityRoutes(deps: IntegrityRouteDeps, integrity: IntegrityDeps): FastifyPluginAsyncZod {
  const key = verifyingKeyFromPem(integrity.publicKeyPem);
  return async (app) => {
    app.get(
      '/api/v1/integrity/public-key',
      {
        config: { audience: EVERY_ROLE },
        schema: {
          tags: ['integrity'],
          summary: 'The Ed25519 key that signs digests',
          response: { 200: okEnvelope(PublicKeySchema), ...errorResponses(401, 403) },
        },
      },
      async () =>
        ok({
          algorithm: 'Ed25519' as const,
          key_id: key.keyId,
          public_key_pem: integrity.publicKeyPem,
          event_hash: 'SHA-256 of the event as RFC 8785 (JCS) JSON without "hash"',
          digest_hash: 'SHA-256 of the digest as RFC 8785 (JCS) JSON without "hash" and "signature"; the signature covers the same bytes',
          merkle_tree: 'RFC 6962 over the event hashes in commit order',
        }),
    );

    app.get(
      '/api/v1/integrity/digests',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: "The caller's tenant's signed digests, oldest first",
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
          summary: "Recompute the caller's tenant's log against its digests",
          querystring: VerifyQuery,
          response: { 200: okEnvelope(VerifyReportSchema), ...errorResponses(401, 403, 422, 503) },
        },
      },
      async (request) => ok(await verifyTenantLog(integrity.store, key, tenantOf(request.identity), request.query)),
    );

    app.get(
      '/api/v1/logs/:id/proof',
      {
        config: { audience: READERS },
        schema: {
          tags: ['integrity'],
          summary: 'An event, its signed digest and its Merkle path',
          description: '409 while the event is not sealed yet.',
          params: LogIdParams,
          response: { 200: okEnvelope(ProofSchema), ...errorResponses(401, 403, 404, 409, 422, 503) },
        },
      },
      async (request) => {
        const tenant = tenantOf(request.identity);
        const event = await deps.store.get(tenant, request.params.id);
        if (!event) throw new NotFound('Log');
        const proof = await proveInclusion(integrity.store, tenant, event.id);
        if (proof === null) {
          const when =
            integrity.sealIntervalSeconds > 0
              ? `digests are written every ${integrity.sealIntervalSeconds} s`
              : 'sealing is off on this server';
          throw new NotSealed(event.id, when);
        }
        return ok({ event, ...proof });
      },
    );
  };
}
