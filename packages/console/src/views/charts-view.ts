import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { css, html, LitElement } from 'lit';
import { type ApiClient, ApiError, type Envelope } from '../api.js';
import { emptyFilters, type Filters, PRESETS, SEVERITIES, toApiParams } from '../filters.js';
import { shared } from '../styles.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

type Counts = Record<string, number>;
interface Buckets {
  totals: Counts;
  buckets: { start: string; counts: Counts }[];
}

interface TopPanel {
  field: string;
  label: string;
  /** Only the analytics tier groups by this field (docs/analytics.md "Stats from analytics"). */
  analyticsOnly?: true;
}
const TOP: readonly TopPanel[] = [
  { field: 'action', label: 'Top actions' },
  { field: 'resource_type', label: 'Top resource types' },
  { field: 'user_id', label: 'Top users' },
  { field: 'ip_address', label: 'Top IP addresses', analyticsOnly: true },
];
const TOP_N = 10;

/** Where the server answered from (`meta.source` of every stats answer) and up to when it counted (`meta.as_of`). */
export interface StatsSource {
  source: string;
  asOf: string;
}

/** The bucket sizes the stats API takes: hour and day everywhere; minute, week and month only from analytics. */
export function intervalsFor(analytics: boolean, filters: Filters): string[] {
  if (!analytics) return ['hour', 'day'];
  const preset = PRESETS.find((p) => p.key === filters.range);
  // Minute buckets only where they fit the API's 2000 buckets (a preset of a day at most).
  const minute = preset !== undefined && preset.ms <= 24 * 3_600_000 ? ['minute'] : [];
  return [...minute, 'hour', 'day', 'week', 'month'];
}

// Colour-blind-safe severity colours (Okabe–Ito), dark enough to read against white.
const COLOURS: Record<string, string> = { INFO: '#0072b2', WARNING: '#e69f00', ERROR: '#d55e00', CRITICAL: '#7a1f5c' };

/** A range the hourly buckets can hold (2000 buckets) uses hours; longer or open ranges use days. */
export function autoInterval(filters: Filters): 'hour' | 'day' {
  const preset = PRESETS.find((p) => p.key === filters.range);
  if (preset) return preset.ms <= 7 * 24 * 3_600_000 ? 'hour' : 'day';
  return filters.range === 'day' ? 'hour' : 'day';
}

/**
 * Counts per severity over time, stacked (Chart.js), and the top actions, resource types and users,
 * all from the stats API with the filters. The API zero-fills every bucket; the numbers behind the
 * chart are also in a table, for screen readers and for checking.
 */
export class ChartsView extends LitElement {
  static override properties = {
    api: { attribute: false },
    filters: { attribute: false },
    interval: { state: true },
    series: { state: true },
    tops: { state: true },
    others: { state: true },
    answered: { state: true },
    error: { state: true },
    loading: { state: true },
  };
  static override styles = [
    shared,
    css`
      .chart { position: relative; height: 320px; }
      .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 0.8rem; margin-top: 0.8rem; }
      .bar { background: var(--accent); height: 0.5rem; border-radius: 3px; }
      .totals { display: flex; flex-wrap: wrap; gap: 0.8rem; }
      td.value { width: 100%; }
    `,
  ];

  api: ApiClient | null = null;
  filters: Filters = emptyFilters();
  interval = '';
  series: Buckets | null = null;
  tops: Record<string, [string, number][]> = {};
  /** Per top panel, the events in values left out (`meta.others`, analytics' top=N). */
  others: Record<string, number> = {};
  answered: StatsSource | null = null;
  error = '';
  loading = false;
  private chart: Chart | null = null;
  private request = 0;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('filters') || changed.has('api') || changed.has('interval')) void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.chart?.destroy();
    this.chart = null;
  }

  private async load(): Promise<void> {
    if (!this.api) return;
    const id = ++this.request;
    const params = toApiParams(this.filters);
    const interval = this.interval || autoInterval(this.filters);
    this.loading = true;
    this.error = '';
    try {
      // The series first: its meta.source says whether the analytics-only forms may be asked for.
      const series = await this.api.get<Buckets>('/api/v1/logs/stats', { ...params, interval });
      const answered = sourceOf(series.meta);
      const analytics = answered.source === 'analytics';
      const panels = TOP.filter((t) => analytics || !t.analyticsOnly);
      // From analytics the server picks the top values itself (top=N, meta.others counts the rest),
      // one query at a time: the tier runs at most ANALYTICS_MAX_QUERIES_PER_TENANT (2) at once per
      // tenant and refuses more with a 429, and the tenant's other dashboards share that bound.
      const topOf = (t: TopPanel) =>
        this.api!.get<Counts>('/api/v1/logs/stats', { ...params, group_by: t.field, ...(analytics ? { top: String(TOP_N) } : {}) });
      const tops: Envelope<Counts>[] = [];
      if (analytics) for (const t of panels) tops.push(await topOf(t));
      else tops.push(...(await Promise.all(panels.map(topOf))));
      if (id !== this.request) return;
      this.series = series.data;
      this.answered = answered;
      this.tops = Object.fromEntries(
        panels.map((t, i) => [
          t.field,
          Object.entries(tops[i]?.data ?? {})
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .slice(0, TOP_N),
        ]),
      );
      this.others = Object.fromEntries(
        panels.map((t, i) => {
          const shown = (this.tops[t.field] ?? []).reduce((sum, [, n]) => sum + n, 0);
          const fromServer = Number(tops[i]?.meta?.others ?? 0);
          const all = Object.values(tops[i]?.data ?? {}).reduce((sum, n) => sum + n, 0);
          return [t.field, fromServer + all - shown];
        }),
      );
    } catch (error) {
      if (id !== this.request) return;
      this.series = null;
      this.error = error instanceof ApiError ? error.reason : String(error);
    } finally {
      if (id === this.request) this.loading = false;
    }
  }

  override updated(): void {
    // A bucket size that this source does not offer (the server changed) falls back to automatic.
    if (this.interval && this.answered && !intervalsFor(this.answered.source === 'analytics', this.filters).includes(this.interval))
      this.interval = '';
    const canvas = this.renderRoot.querySelector('canvas');
    if (!canvas || !this.series) return;
    const interval = this.interval || autoInterval(this.filters);
    const labels = this.series.buckets.map((b) =>
      new Date(b.start).toLocaleString(
        undefined,
        interval === 'minute'
          ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
          : interval === 'hour'
            ? { month: 'short', day: 'numeric', hour: '2-digit' }
            : interval === 'month'
              ? { year: 'numeric', month: 'long' }
              : { dateStyle: 'medium' },
      ),
    );
    const datasets = SEVERITIES.map((s) => ({
      label: s,
      data: this.series!.buckets.map((b) => b.counts[s] ?? 0),
      backgroundColor: COLOURS[s],
      stack: 'severity',
    }));
    if (this.chart && this.chart.canvas === canvas) {
      this.chart.data.labels = labels;
      this.chart.data.datasets = datasets;
      this.chart.update();
      return;
    }
    this.chart?.destroy();
    this.chart = new Chart(canvas, {
      type: 'bar',
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } },
      },
    });
  }

  override render() {
    const series = this.series;
    return html`
      <div class="row" style="justify-content:space-between">
        <h2>Events per severity over time</h2>
        <label>Bucket
          <select @change=${(e: Event) => (this.interval = (e.target as HTMLSelectElement).value)}>
            <option value="" ?selected=${this.interval === ''}>Automatic (${autoInterval(this.filters)})</option>
            ${intervalsFor(this.answered?.source === 'analytics', this.filters).map(
              (size) => html`<option value=${size} ?selected=${this.interval === size}>${INTERVAL_LABELS[size] ?? size}</option>`,
            )}
          </select>
        </label>
      </div>
      ${this.answered ? html`<p class="muted" id="stats-source" data-source=${this.answered.source}>${sourceText(this.answered)}</p>` : ''}
      ${this.error ? html`<p class="notice error" role="alert">${this.error}</p>` : ''}
      ${this.loading && !series ? html`<p role="status">Loading…</p>` : ''}
      ${
        series
          ? html`
            <p class="totals" aria-label="Totals">${SEVERITIES.map((s) => html`<span><span class="sev sev-${s}">${s}</span> <strong data-total=${s}>${series.totals[s] ?? 0}</strong></span>`)}</p>
            <div class="chart"><canvas role="img" aria-label="Stacked bars: events per severity in each ${this.interval || autoInterval(this.filters)}"></canvas></div>
            <details>
              <summary>The chart's numbers</summary>
              <div class="table-wrap">
                <table id="series">
                  <thead><tr><th scope="col">Bucket start (UTC)</th>${SEVERITIES.map((s) => html`<th scope="col" class="num">${s}</th>`)}</tr></thead>
                  <tbody>
                    ${series.buckets.map((b) => html`<tr data-start=${b.start}><td>${b.start}</td>${SEVERITIES.map((s) => html`<td class="num" data-severity=${s}>${b.counts[s] ?? 0}</td>`)}</tr>`)}
                  </tbody>
                </table>
              </div>
            </details>`
          : ''
      }
      <div class="grid">
        ${TOP.map((t) => {
          const rows = this.tops[t.field] ?? [];
          const max = Math.max(1, ...rows.map((r) => r[1]));
          return html`<section class="panel" aria-labelledby="top-${t.field}">
            <h3 id="top-${t.field}">${t.label}</h3>
            ${
              rows.length === 0
                ? html`<p class="muted">None.</p>`
                : html`<table data-top=${t.field}>
                  <tbody>
                    ${rows.map(
                      ([value, count]) => html`<tr>
                        <th scope="row">${value}</th>
                        <td class="num" data-value=${value}>${count}</td>
                        <td class="value"><div class="bar" style="width:${(100 * count) / max}%"></div></td>
                      </tr>`,
                    )}
                  </tbody>
                </table>
                ${(this.others[t.field] ?? 0) > 0 ? html`<p class="muted" data-others=${t.field}>${this.others[t.field]} more in other values</p>` : ''}`
            }
          </section>`;
        })}
      </div>
    `;
  }
}

const INTERVAL_LABELS: Record<string, string> = { minute: 'Minute', hour: 'Hour', day: 'Day', week: 'Week (from Monday)', month: 'Month' };

function sourceOf(meta: Record<string, unknown> | undefined): StatsSource {
  return { source: String(meta?.source ?? 'unknown'), asOf: String(meta?.as_of ?? '') };
}

/** Says where the numbers come from: analytics may trail the store by the sink's lag, so it says up to when. */
export function sourceText({ source, asOf }: StatsSource): string {
  if (source === 'analytics') {
    const when = asOf.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
    return `Counted by the analytics tier: every event stored before ${when} is in these numbers.`;
  }
  if (source === 'rollups') return 'Counted from the store’s hourly rollups: exact, up to this moment.';
  if (source === 'index') return 'Counted from the store’s index: exact, up to this moment.';
  return `Counted by: ${source}.`;
}

customElements.define('ls-charts', ChartsView);
