import { css, html, LitElement } from 'lit';
import { type ApiClient, ApiError } from '../api.js';
import { emptyFilters, type Filters, toApiParams } from '../filters.js';
import { shared } from '../styles.js';

const FORMATS = [
  { key: 'ndjson', label: 'NDJSON (one event per line)', ext: 'ndjson' },
  { key: 'csv', label: 'CSV', ext: 'csv' },
  { key: 'json', label: 'JSON array', ext: 'json' },
] as const;

/**
 * Counts CSV records as bytes arrive: a line break ends a record only outside a quoted field
 * (RFC 4180 quotes with `"`, doubled inside). A counter, not a parser: the file is saved as received.
 */
export class CsvRecordCounter {
  records = 0;
  private quoted = false;
  private pending = false;

  push(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 34) this.quoted = !this.quoted;
      else if (c === 10 && !this.quoted) {
        this.records++;
        this.pending = false;
        continue;
      }
      if (c !== 13) this.pending = true;
    }
  }

  /** Records seen, the header row excluded, and a last record without a final line break included. */
  get rows(): number {
    return Math.max(0, this.records + (this.pending ? 1 : 0) - 1);
  }
}

/** Export of the current filter (auditor, admin): streamed with fetch, progress and count as it arrives, cancellable. */
export class ExportView extends LitElement {
  static override properties = {
    api: { attribute: false },
    filters: { attribute: false },
    format: { state: true },
    expected: { state: true },
    received: { state: true },
    bytes: { state: true },
    status: { state: true },
    message: { state: true },
  };
  static override styles = [shared, css`progress { width: 100%; height: 1.2rem; }`];

  api: ApiClient | null = null;
  filters: Filters = emptyFilters();
  format: (typeof FORMATS)[number]['key'] = 'ndjson';
  expected: number | null = null;
  received = 0;
  bytes = 0;
  status: 'idle' | 'running' | 'done' | 'cancelled' | 'failed' = 'idle';
  message = '';
  private abort: AbortController | null = null;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('filters') || changed.has('api')) void this.count();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.abort?.abort();
  }

  private async count(): Promise<void> {
    if (!this.api) return;
    try {
      const answer = await this.api.get<unknown[]>('/api/v1/logs', { ...toApiParams(this.filters), size: '1' });
      this.expected = (answer.meta?.total as number | undefined) ?? null;
    } catch {
      this.expected = null;
    }
  }

  private async start(): Promise<void> {
    if (!this.api) return;
    const format = FORMATS.find((f) => f.key === this.format) ?? FORMATS[0];
    this.abort = new AbortController();
    this.status = 'running';
    this.received = 0;
    this.bytes = 0;
    this.message = '';
    const chunks: Uint8Array[] = [];
    const decoder = new TextDecoder();
    const csv = new CsvRecordCounter();
    let text = '';
    try {
      const response = await this.api.fetch('/api/v1/logs/export', {
        params: { ...toApiParams(this.filters), format: format.key },
        signal: this.abort.signal,
      });
      const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `logs.${format.ext}`;
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        this.bytes += value.byteLength;
        const part = decoder.decode(value, { stream: true });
        if (format.key === 'ndjson') for (const c of part) if (c === '\n') this.received++;
        if (format.key === 'csv') {
          csv.push(part);
          this.received = csv.rows;
        }
        if (format.key === 'json') text += part;
      }
      if (format.key === 'csv') csv.push(decoder.decode());
      if (format.key === 'csv') this.received = csv.rows;
      if (format.key === 'json') this.received = (JSON.parse(text + decoder.decode()) as unknown[]).length;
      this.save(new Blob(chunks as BlobPart[], { type: response.headers.get('content-type') ?? 'application/octet-stream' }), name);
      this.status = 'done';
      this.message = `Saved ${name}: ${this.received} events, ${formatBytes(this.bytes)}.`;
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') {
        this.status = 'cancelled';
        this.message = `Cancelled after ${this.received} events (${formatBytes(this.bytes)}); nothing was saved.`;
      } else {
        this.status = 'failed';
        this.message = error instanceof ApiError ? error.reason : String(error);
      }
    } finally {
      this.abort = null;
    }
  }

  private save(blob: Blob, name: string): void {
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.style.display = 'none';
    this.renderRoot.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  override render() {
    const running = this.status === 'running';
    return html`
      <h2>Export the events that match the filters</h2>
      <p class="muted">
        ${this.expected === null ? '' : html`<span id="expected">${this.expected}</span> events match now. `}
        The export is streamed from the server and recorded in this tenant's log as a <code>logs.export</code> event.
      </p>
      <div class="row">
        <label>Format
          <select ?disabled=${running} @change=${(e: Event) => (this.format = (e.target as HTMLSelectElement).value as typeof this.format)}>
            ${FORMATS.map((f) => html`<option value=${f.key} ?selected=${this.format === f.key}>${f.label}</option>`)}
          </select>
        </label>
        <button type="button" class="primary" ?disabled=${running} @click=${() => this.start()}>Export</button>
        <button type="button" ?disabled=${!running} @click=${() => this.abort?.abort()}>Cancel</button>
      </div>
      ${
        this.status === 'idle'
          ? ''
          : html`<div style="margin-top:0.8rem">
            ${
              // A JSON array is counted once it is complete: until then the bar is indeterminate (no value).
              (running && this.format === 'json') || !this.expected
                ? html`<progress aria-label="Export progress"></progress>`
                : html`<progress aria-label="Export progress" max=${this.expected} .value=${Math.min(this.received, this.expected)}></progress>`
            }
            <p role="status" aria-live="polite" data-status=${this.status}>
              ${running ? `Receiving… ${this.format === 'json' ? '' : `${this.received} events, `}${formatBytes(this.bytes)}` : this.message}
            </p>
          </div>`
      }
    `;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

customElements.define('ls-export', ExportView);
