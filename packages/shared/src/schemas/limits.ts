/** Input limits, documented in the README's "Limits" table; tests check each boundary. */
export const LIMITS = {
  shortText: 128, // action, resource_type
  resourceId: 256,
  userAgent: 1024,
  objectBytes: 16 * 1024, // before, after, metadata: each, as JSON text
  objectDepth: 8,
  objectKeyLength: 256,
  bulkEvents: 1000,
  singleBodyBytes: 64 * 1024,
  bulkBodyBytes: 10 * 1024 * 1024,
  pageSize: 100,
  offsetWindow: 100_000, // page × size: deeper pages must use the cursor, which costs the same at any depth
  cursor: 512,
  statsBuckets: 2000, // interval buckets in one stats answer (83 days by hour, 5 years by day)
  statsGroups: 1000, // groups (pairs, with two group_by fields) in one analytics stats answer; top=N at most this
  statsCells: 200_000, // (group, bucket) counts in one analytics stats answer
  cleanupDays: 36_500,
  search: 256,
  filterValue: 256,
} as const;
