/** How big each scenario runs. `full` is the sizes; `quick` finishes the whole run in under a minute. */
export interface Sizes {
  scale: 'quick' | 'full';
  /** Scenario 1: seconds of single POSTs at c=100, each side. */
  postSeconds: number;
  /** Scenario 2: the Python system's `hey -n 10000 -c 1000`. */
  pythonRequests: number;
  pythonConnections: number;
  /** Scenario 3: bulk requests of 500 events. */
  bulkRequests: number;
  /** Scenarios 4–6: events in the large tenant, loaded before the server starts. */
  bigTenantEvents: number;
  /** Scenarios 4 and 5: seconds per figure. */
  readSeconds: number;
  /** Scenario 7. */
  subscribers: number;
  streamEvents: number;
  /** Scenario 7: events stored while a client was away, then replayed to it with after=. */
  replayEvents: number;
  /** Scenario 8: single POSTs through SQS. */
  sqsSeconds: number;
  /** Scenario 9: rows generated in the analytics store (chdb) and copied into the primary store (BENCH_ANALYTICS_ROWS overrides). */
  analyticsRows: number;
  /** Scenario 9: client-built rows sent through the analytics store's insert. */
  analyticsLoadRows: number;
  /** Scenario 9: dashboard queries timed on each analytics path and on the API over the primary store. */
  analyticsQueries: number;
  /** Scenario 9: runs of the same count on SQLite's logs table (seconds each at 10M rows). */
  analyticsScanRuns: number;
  /** Scenario 10: seconds a side, sealed and unsealed, for bulk and for single POSTs. */
  sealSeconds: number;
  /** Scenario 12: seconds a rate must hold p99 ≤ 50 ms (the 30 s), and seconds of each probe that finds the rate. */
  sustainSeconds: number;
  probeSeconds: number;
}

const FULL: Sizes = {
  scale: 'full',
  postSeconds: 12,
  pythonRequests: 10_000,
  pythonConnections: 1000,
  bulkRequests: 400,
  bigTenantEvents: 1_000_000,
  readSeconds: 8,
  subscribers: 1000,
  streamEvents: 200,
  replayEvents: 50_000,
  sqsSeconds: 12,
  analyticsRows: 10_000_000,
  analyticsLoadRows: 200_000,
  analyticsQueries: 100,
  analyticsScanRuns: 3,
  sealSeconds: 12,
  sustainSeconds: 30,
  probeSeconds: 3,
};

const QUICK: Sizes = {
  scale: 'quick',
  postSeconds: 2,
  pythonRequests: 1500,
  pythonConnections: 1000,
  bulkRequests: 20,
  bigTenantEvents: 20_000,
  readSeconds: 1,
  subscribers: 200,
  streamEvents: 40,
  replayEvents: 5_000,
  sqsSeconds: 2,
  analyticsRows: 200_000,
  analyticsLoadRows: 20_000,
  analyticsQueries: 20,
  analyticsScanRuns: 3,
  sealSeconds: 2,
  sustainSeconds: 3,
  probeSeconds: 1,
};

/** BENCH_SCALE: unset or `full` for the sizes, `quick` for a short run. */
export function sizesFor(scale: string | undefined): Sizes {
  if (scale === undefined || scale === '' || scale === 'full') return FULL;
  if (scale === 'quick') return QUICK;
  throw new Error(`BENCH_SCALE=${scale} is not a scale: use BENCH_SCALE=quick, or leave it unset for the full run`);
}
