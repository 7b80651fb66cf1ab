import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadResult {
  /** Answered requests, of any status. */
  requests: number;
  seconds: number;
  /** 2xx answers, and per second. */
  ok2xx: number;
  ok2xxPerSecond: number;
  /** Latency in ms. */
  p50: number;
  p99: number;
  /** Mean latency in ms: in a closed loop of c clients, c ÷ the requests a second (Little's law). */
  mean: number;
  /**
   * With `splitFirst`: the p99 (ms) of each connection's first request, which carries the connect
   * and the wait to be accepted (autocannon starts its clock before it connects), and of the rest.
   */
  firstP99?: number;
  laterP99?: number;
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
}

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /** Seconds to run; ignored when `amount` is set. */
  duration?: number;
  /** Total requests to send. */
  amount?: number;
  /** Keep each answer's latency, split into each connection's first request and the rest (see LoadResult). */
  splitFirst?: boolean;
}

// @types/autocannon leaves out aggregateResult, which merges runs made with skipAggregateResult.
const merge = (
  autocannon as unknown as { aggregateResult(results: unknown[], options: { url: string; connections: number }): autocannon.Result }
).aggregateResult;

interface Run {
  raw: unknown;
  seconds: number;
  /** With `splitFirst`: latencies (ms) of each connection's first answer, and of the others. */
  first: number[];
  later: number[];
}

/** The q-quantile of latencies (ms), nearest rank; undefined for none. */
function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

async function run(options: LoadOptions, seconds?: number): Promise<Run> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const started = performance.now();
  const instance = autocannon({
    url: options.url,
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
    connections: options.connections,
    ...(options.amount === undefined ? { duration: seconds ?? options.duration ?? 5 } : { amount: options.amount }),
    timeout: 30,
    skipAggregateResult: true,
    // Without a callback autocannon answers its instance, which is also a promise of the result
    // (@types/autocannon types it as the promise alone).
  }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  const first: number[] = [];
  const later: number[] = [];
  if (options.splitFirst) {
    const answered = new WeakSet<object>();
    instance.on('response', (client: object, _status: number, _bytes: number, ms: number) => {
      (answered.has(client) ? later : first).push(ms);
      answered.add(client);
    });
  }
  const raw = await instance;
  return { raw, seconds: (performance.now() - started) / 1000, first, later };
}

function summarize(runs: Run[], options: LoadOptions): LoadResult {
  const result = merge(
    runs.map((one) => one.raw),
    { url: options.url, connections: options.connections },
  );
  const seconds = runs.reduce((sum, one) => sum + one.seconds, 0);
  return {
    requests: result.requests.total,
    seconds,
    ok2xx: result['2xx'],
    ok2xxPerSecond: result['2xx'] / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
    errors: result.errors + result.non2xx,
    ...(options.splitFirst
      ? {
          firstP99: quantile(
            runs.flatMap((one) => one.first),
            0.99,
          ),
          laterP99: quantile(
            runs.flatMap((one) => one.later),
            0.99,
          ),
        }
      : {}),
  };
}

/** Drives HTTP load with autocannon from this process (not a shell loop) and returns what a target needs. */
export async function hammer(options: LoadOptions): Promise<LoadResult> {
  return summarize([await run(options)], options);
}

/**
 * Runs ours and its baseline in alternating slices and merges each side's slices (latency
 * histograms included). Other work on the machine then weighs on both sides alike, so the ratio
 * holds even when the absolute numbers move.
 */
/** The larger of two measurements, either of which may be missing (null). */
export const worst = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

export async function sideBySide(options: {
  ours: LoadOptions;
  baseline: LoadOptions;
  seconds: number;
  rounds?: number;
  /** Opens a measurement window on the server around each of our slices; the result is the worst window. */
  watch?: () => Promise<() => Promise<number | null>>;
  /** The same around each of the baseline's slices, on the baseline's server. */
  watchBaseline?: () => Promise<() => Promise<number | null>>;
}): Promise<{ ours: LoadResult; baseline: LoadResult; watched: number | null; baselineWatched: number | null }> {
  // autocannon counts its duration in whole seconds, so a slice is never shorter than one.
  const rounds = options.rounds ?? Math.min(4, Math.max(1, Math.floor(options.seconds)));
  const slice = Math.max(1, Math.round(options.seconds / rounds));
  const oursRuns: Run[] = [];
  const baselineRuns: Run[] = [];
  let watched: number | null = null;
  let baselineWatched: number | null = null;
  for (let round = 0; round < rounds; round++) {
    const stopBaseline = await options.watchBaseline?.();
    baselineRuns.push(await run(options.baseline, slice));
    baselineWatched = worst(baselineWatched, stopBaseline ? await stopBaseline() : null);
    const stop = await options.watch?.();
    oursRuns.push(await run(options.ours, slice));
    watched = worst(watched, stop ? await stop() : null);
  }
  return { ours: summarize(oursRuns, options.ours), baseline: summarize(baselineRuns, options.baseline), watched, baselineWatched };
}

/** Latencies measured in this process, in ms, kept in Node's own HDR histogram. */
export class Latencies {
  private readonly histogram: RecordableHistogram = createHistogram();

  record(ms: number): void {
    this.histogram.record(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.histogram.count;
  }

  percentile(p: number): number {
    return this.histogram.count === 0 ? Number.NaN : this.histogram.percentile(p) / 1000;
  }
}

/** Times `run` `times` times, one after another, and returns the latencies. */
export async function timeEach(times: number, run: () => unknown): Promise<Latencies> {
  const latencies = new Latencies();
  for (let index = 0; index < times; index++) {
    const start = performance.now();
    await run();
    latencies.record(performance.now() - start);
  }
  return latencies;
}
