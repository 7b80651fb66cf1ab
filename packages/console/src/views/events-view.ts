import { css, html, LitElement } from 'lit';
import { type ApiClient, ApiError } from '../api.js';
import { emptyFilters, type Filters, toApiParams } from '../filters.js';
import { shared } from '../styles.js';
import type { LogEvent } from './event-detail.js';
import './event-detail.js';

export const COLUMNS = [
  { key: 'timestamp', label: 'Time' },
  { key: 'severity', label: 'Severity' },
  { key: 'action', label: 'Action' },
  { key: 'resource_type', label: 'Resource type' },
  { key: 'resource_id', label: 'Resource id' },
  { key: 'user_id', label: 'User' },
  { key: 'ip_address', label: 'IP address' },
  { key: 'user_agent', label: 'User agent' },
  { key: 'received_at', label: 'Received' },
  { key: 'id', label: 'Id' },
] as const;

export const DEFAULT_COLUMNS = ['timestamp', 'severity', 'action', 'resource_type', 'resource_id', 'user_id'];

const COLUMNS_KEY = 'logserver-console.columns';

export function timeText(iso: unknown): string {
  if (typeof iso !== 'string') return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/**
 * The events table: the list API with the filters, sorted by time, paged by cursor (the cursors of
 * the pages seen are kept, so "Previous" goes back without offsets). Rows open the event's detail.
 */
export class EventsView extends LitElement {
  static override properties = {
    api: { attribute: false },
    filters: { attribute: false },
    sort: { type: String },
    rows: { state: true },
    total: { state: true },
    error: { state: true },
    loading: { state: true },
    page: { state: true },
    columns: { state: true },
    selected: { state: true },
  };
  static override styles = [
    shared,
    css`
      .bar { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: center; justify-content: space-between; margin: 0.4rem 0; }
      details.columns { position: relative; }
      details.columns > div { position: absolute; right: 0; z-index: 2; background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 0.5rem; min-width: 12rem; }
      details.columns label { flex-direction: row; gap: 0.4rem; color: var(--fg); font-size: 0.95rem; }
      th button { background: none; border: 0; padding: 0; min-height: 0; font-weight: 600; }
      .layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0.8rem; }
      @media (min-width: 1100px) { .layout.open { grid-template-columns: minmax(0, 3fr) minmax(22rem, 2fr); } }
    `,
  ];

  api: ApiClient | null = null;
  filters: Filters = emptyFilters();
  sort: 'asc' | 'desc' = 'desc';
  rows: LogEvent[] = [];
  total: number | null = null;
  error = '';
  loading = false;
  /** The cursor that starts each page seen so far; page 1 starts with none. */
  private cursors: (string | undefined)[] = [undefined];
  private nextCursor: string | null = null;
  page = 0;
  size = 25;
  columns: string[] = loadColumns();
  selected: LogEvent | null = null;
  private request = 0;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('filters') || changed.has('sort') || changed.has('api')) {
      this.cursors = [undefined];
      this.page = 0;
      this.selected = null;
      void this.load();
    }
  }

  /** Reloads the first page (the live view and the console call it after events arrived). */
  refresh(): void {
    this.cursors = [undefined];
    this.page = 0;
    void this.load();
  }

  private async load(): Promise<void> {
    if (!this.api) return;
    const id = ++this.request;
    this.loading = true;
    this.error = '';
    try {
      const cursor = this.cursors[this.page];
      const answer = await this.api.get<LogEvent[]>('/api/v1/logs', {
        ...toApiParams(this.filters),
        sort: this.sort,
        size: String(this.size),
        cursor,
      });
      if (id !== this.request) return;
      this.rows = answer.data;
      this.nextCursor = (answer.meta?.next_cursor as string | null | undefined) ?? null;
      if (this.page === 0) this.total = (answer.meta?.total as number | undefined) ?? null;
    } catch (error) {
      if (id !== this.request) return;
      this.rows = [];
      this.error = error instanceof ApiError ? error.reason : String(error);
    } finally {
      if (id === this.request) this.loading = false;
    }
  }

  private go(delta: number): void {
    if (delta > 0) {
      if (!this.nextCursor) return;
      this.cursors[this.page + 1] = this.nextCursor;
    }
    this.page = Math.max(0, this.page + delta);
    void this.load();
  }

  private toggleSort(): void {
    this.dispatchEvent(new CustomEvent('sort-change', { detail: this.sort === 'desc' ? 'asc' : 'desc', bubbles: true, composed: true }));
  }

  private toggleColumn(key: string, on: boolean): void {
    const set = new Set(this.columns);
    if (on) set.add(key);
    else set.delete(key);
    this.columns = COLUMNS.map((c) => c.key).filter((k) => set.has(k));
    try {
      localStorage.setItem(COLUMNS_KEY, JSON.stringify(this.columns));
    } catch {
      // storage may be off (private mode, an embedding page's policy): the choice then lasts this page only
    }
  }

  private open(event: LogEvent): void {
    this.selected = event;
    void this.updateComplete.then(() =>
      (this.renderRoot.querySelector('ls-event-detail') as HTMLElement | null)?.scrollIntoView({ block: 'nearest' }),
    );
  }

  private cell(event: LogEvent, key: string) {
    const value = event[key];
    if (key === 'severity') return html`<span class="sev sev-${String(value)}">${String(value)}</span>`;
    if (key === 'timestamp' || key === 'received_at') return html`<time datetime=${String(value)}>${timeText(value)}</time>`;
    return value == null ? '' : String(value);
  }

  override render() {
    const shown = COLUMNS.filter((c) => this.columns.includes(c.key));
    const first = this.page * this.size + 1;
    return html`
      <div class="bar">
        <p role="status" aria-live="polite" class="muted" id="count">
          ${this.loading ? 'Loading…' : this.rows.length === 0 ? 'No events match.' : `Events ${first}–${first + this.rows.length - 1}${this.total != null ? ` of ${this.total}` : ''}`}
        </p>
        <div class="row">
          <details class="columns">
            <summary>Columns</summary>
            <div>
              ${COLUMNS.map(
                (c) =>
                  html`<label><input type="checkbox" .checked=${this.columns.includes(c.key)} @change=${(e: Event) => this.toggleColumn(c.key, (e.target as HTMLInputElement).checked)} />${c.label}</label>`,
              )}
            </div>
          </details>
          <button type="button" @click=${() => this.go(-1)} ?disabled=${this.page === 0}>Previous page</button>
          <button type="button" @click=${() => this.go(1)} ?disabled=${!this.nextCursor}>Next page</button>
        </div>
      </div>
      ${this.error ? html`<p class="notice error" role="alert">${this.error}</p>` : ''}
      <div class="layout ${this.selected ? 'open' : ''}">
        <div class="table-wrap">
          <table aria-describedby="count">
            <thead>
              <tr>
                ${shown.map((c) =>
                  c.key === 'timestamp'
                    ? html`<th scope="col" aria-sort=${this.sort === 'desc' ? 'descending' : 'ascending'}>
                        <button type="button" @click=${() => this.toggleSort()} title="Sort by time">${c.label} ${this.sort === 'desc' ? '↓ newest first' : '↑ oldest first'}</button>
                      </th>`
                    : html`<th scope="col">${c.label}</th>`,
                )}
              </tr>
            </thead>
            <tbody>
              ${this.rows.map(
                (event) => html`<tr
                  tabindex="0"
                  data-id=${event.id}
                  aria-selected=${this.selected?.id === event.id ? 'true' : 'false'}
                  @click=${() => this.open(event)}
                  @keydown=${(e: KeyboardEvent) => {
                    if (e.key === 'Enter' || e.key === ' ') {
                      e.preventDefault();
                      this.open(event);
                    }
                  }}
                >
                  ${shown.map((c) => html`<td data-col=${c.key}>${this.cell(event, c.key)}</td>`)}
                </tr>`,
              )}
            </tbody>
          </table>
        </div>
        ${this.selected ? html`<ls-event-detail class="panel" .event=${this.selected} .api=${this.api} @close=${() => (this.selected = null)}></ls-event-detail>` : ''}
      </div>
    `;
  }
}

function loadColumns(): string[] {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null');
    if (Array.isArray(saved) && saved.length > 0) return saved.filter((key) => COLUMNS.some((c) => c.key === key));
  } catch {
    // unreadable or blocked storage: the default columns
  }
  return [...DEFAULT_COLUMNS];
}

customElements.define('ls-events', EventsView);
