import { z } from 'zod';
import { single, strictQuery } from './log-query.js';

/** Leaves make a digest up to ~1 MB of JSON, so a page with them is kept small. */
export const MAX_DIGESTS_WITH_LEAVES = 10;

export const DigestsQuery = strictQuery({
  page: single(z.coerce.number().int().min(1).max(1_000_000)).default(1),
  size: single(z.coerce.number().int().min(1).max(100)).default(20),
  leaves: single(z.enum(['true', 'false'])).default('false'),
}).refine((query) => query.leaves === 'false' || query.size <= MAX_DIGESTS_WITH_LEAVES, {
  path: ['size'],
  message: `at most ${MAX_DIGESTS_WITH_LEAVES} with leaves=true`,
});

const isoDateTime = single(
  z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone, e.g. 2025-06-26T00:00:00Z' })
    .transform((value) => new Date(value).toISOString()),
);

const hexRoot = single(z.string().regex(/^[0-9a-f]{64}$/, 'must be a 32-byte hash in lowercase hex'));

export const VerifyQuery = strictQuery({
  from: isoDateTime.optional(),
  to: isoDateTime.optional(),
  trusted_size: single(z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).optional(),
  trusted_root: hexRoot.optional(),
})
  .refine((query) => (query.trusted_size === undefined) === (query.trusted_root === undefined), {
    path: ['trusted_root'],
    message: 'trusted_size and trusted_root go together (a checkpoint you kept)',
  })
  .transform(({ trusted_size, trusted_root, ...rest }) => ({
    ...rest,
    trusted: trusted_size === undefined || trusted_root === undefined ? undefined : { size: trusted_size, root: trusted_root },
  }));

const treeSize = single(z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

export const CheckpointsQuery = strictQuery({
  page: single(z.coerce.number().int().min(1).max(1_000_000)).default(1),
  size: single(z.coerce.number().int().min(1).max(100)).default(20),
  leaves: single(z.enum(['true', 'false'])).default('false'),
}).refine((query) => query.leaves === 'false' || query.size <= MAX_DIGESTS_WITH_LEAVES, {
  path: ['size'],
  message: `at most ${MAX_DIGESTS_WITH_LEAVES} with leaves=true`,
});

export const ConsistencyQuery = strictQuery({ from: treeSize, to: treeSize.optional() }).refine(
  (query) => query.to === undefined || query.from <= query.to,
  { path: ['from'], message: 'must not be above to' },
);

export const ProofQuery = strictQuery({ checkpoint: treeSize.optional() });

export const CheckpointParams = z.object({ size: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });
