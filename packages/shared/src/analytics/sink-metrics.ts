import { Counter, Gauge, type Registry } from 'prom-client';
import type { AnalyticsSink } from './sink.js';

/** The sink's Prometheus series, read from its status at scrape time. */
export function registerSinkMetrics(registry: Registry, sink: AnalyticsSink): void {
  new Gauge({
    name: 'analytics_sink_lag_seconds',
    help: 'Seconds since the analytics sink last had every committed event',
    registers: [registry],
    collect() {
      this.set(sink.status().lagSeconds);
    },
  });
  new Gauge({
    name: 'analytics_sink_lag_positions',
    help: 'Commit positions stored but not yet copied to analytics',
    registers: [registry],
    collect() {
      this.set(sink.status().lagEvents);
    },
  });
  const tally = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  tally(
    'analytics_sink_events_copied_total',
    'Events written to analytics (a replayed batch counts again)',
    () => sink.status().eventsCopied,
  );
  tally('analytics_sink_deletions_total', 'Cleanup deletions applied to analytics', () => sink.status().deletionsApplied);
  tally('analytics_sink_errors_total', 'Sink rounds that failed (analytics or the primary store unreachable)', () => sink.status().errors);
}
