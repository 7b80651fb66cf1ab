import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadResult {
  /** Answered requests, of any status. */
  requests: number;
  seconds: number;
  /** 2xx answers per second. */
  ok2xxPerSecond: number;
  /** Latency in ms. */
  p50: number;
  p99: number;
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
}

/** Drives HTTP load with autocannon from this process (not a shell loop) and returns what a target needs. */
export async function hammer(options: LoadOptions): Promise<LoadResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const result = await autocannon({
    url: options.url,
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.duration ?? 5 } : { amount: options.amount }),
    timeout: 30,
  });
  const ok2xx = result['2xx'];
  return {
    requests: result.requests.total,
    seconds: result.duration,
    ok2xxPerSecond: ok2xx / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
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
