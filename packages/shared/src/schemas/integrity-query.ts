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

export const VerifyQuery = strictQuery({ from: isoDateTime.optional(), to: isoDateTime.optional() });
