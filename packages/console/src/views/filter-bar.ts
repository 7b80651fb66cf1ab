import { css, html, LitElement } from 'lit';
import { emptyFilters, type Filters, PRESETS, SEVERITIES, TEXT_FILTERS } from '../filters.js';
import { shared } from '../styles.js';

/**
 * Every filter of the list API. Text fields apply on Enter or "Apply"; severity chips and the time
 * range apply at once. Emits `filters-change` with the new Filters.
 */
export class FilterBar extends LitElement {
  static override properties = { filters: { attribute: false } };
  static override styles = [
    shared,
    css`
      form { display: flex; flex-direction: column; gap: 0.6rem; margin-bottom: 0.8rem; }
      .chips { display: flex; gap: 0.4rem; flex-wrap: wrap; align-items: center; }
      .chip[aria-pressed='true'] { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
      .grow { flex: 1 1 16rem; }
      fieldset { border: 0; padding: 0; margin: 0; }
      legend { font-size: 0.85rem; color: var(--muted); padding: 0; margin-bottom: 0.2rem; }
      details.fields > summary { cursor: pointer; color: var(--muted); font-size: 0.9rem; margin-bottom: 0.3rem; }
    `,
  ];

  filters: Filters = emptyFilters();
  /** On a phone the six field filters start folded (unless one is set), so the events are in view. */
  private readonly wide = typeof matchMedia === 'function' ? matchMedia('(min-width: 641px)').matches : true;

  private emit(filters: Filters): void {
    this.dispatchEvent(new CustomEvent<Filters>('filters-change', { detail: filters, bubbles: true, composed: true }));
  }

  private readForm(): Filters {
    const form = this.renderRoot.querySelector('form') as HTMLFormElement;
    const data = new FormData(form);
    const next: Filters = { ...this.filters };
    for (const { key } of TEXT_FILTERS) next[key] = String(data.get(key) ?? '');
    next.search = String(data.get('search') ?? '');
    next.range = String(data.get('range') ?? '');
    next.from = String(data.get('from') ?? '');
    next.to = String(data.get('to') ?? '');
    next.timestamp = String(data.get('timestamp') ?? '');
    return next;
  }

  private toggleSeverity(severity: string): void {
    const has = this.filters.severity.includes(severity);
    const severities = has ? this.filters.severity.filter((s) => s !== severity) : [...this.filters.severity, severity];
    this.emit({ ...this.readForm(), severity: SEVERITIES.filter((s) => severities.includes(s)) });
  }

  override render() {
    const f = this.filters;
    const setCount = TEXT_FILTERS.filter(({ key }) => f[key] !== '').length;
    return html`
      <form
        role="search"
        aria-label="Filter events"
        @submit=${(e: Event) => {
          e.preventDefault();
          this.emit(this.readForm());
        }}
      >
        <div class="row">
          <label class="grow">Search (literal text)
            <input name="search" type="search" .value=${f.search} placeholder="text in any field, before, after or metadata" maxlength="256" />
          </label>
          <label>Time
            <select name="range" @change=${() => this.emit(this.readForm())}>
              <option value="" ?selected=${f.range === ''}>All time</option>
              ${PRESETS.map((p) => html`<option value=${p.key} ?selected=${f.range === p.key}>${p.label}</option>`)}
              <option value="day" ?selected=${f.range === 'day'}>One UTC day</option>
              <option value="custom" ?selected=${f.range === 'custom'}>Custom range</option>
            </select>
          </label>
          ${
            f.range === 'custom'
              ? html`<label>From (local time)<input name="from" type="datetime-local" step="1" .value=${f.from} /></label>
                  <label>To (local time, exclusive)<input name="to" type="datetime-local" step="1" .value=${f.to} /></label>`
              : ''
          }
          ${f.range === 'day' ? html`<label>Day (UTC)<input name="timestamp" type="date" .value=${f.timestamp} /></label>` : ''}
        </div>
        <details class="fields" ?open=${this.wide || TEXT_FILTERS.some(({ key }) => f[key] !== '')}>
          <summary>Field filters${setCount ? ` (${setCount} set)` : ''}</summary>
          <div class="row">
            ${TEXT_FILTERS.map(
              ({ key, label }) => html`<label>${label}<input name=${key} .value=${f[key]} maxlength="256" autocomplete="off" /></label>`,
            )}
          </div>
        </details>
        <div class="row">
          <fieldset class="chips">
            <legend>Severity (none selected: all)</legend>
            ${SEVERITIES.map(
              (s) => html`<button
                type="button"
                class="chip sev-${s}"
                aria-pressed=${f.severity.includes(s) ? 'true' : 'false'}
                @click=${() => this.toggleSeverity(s)}
              >${s}</button>`,
            )}
          </fieldset>
          <span style="flex:1"></span>
          <button type="button" @click=${() => this.emit(emptyFilters())}>Clear filters</button>
          <button type="submit" class="primary">Apply</button>
        </div>
      </form>
    `;
  }
}

customElements.define('ls-filter-bar', FilterBar);
