import { diff } from 'jsondiffpatch';
import { format } from 'jsondiffpatch/formatters/html';
import diffCss from 'jsondiffpatch/formatters/styles/html.css';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { type ApiClient, ApiError } from '../api.js';
import { shared } from '../styles.js';
import { type Proof, type ProofResult, verifyProof } from '../verify-proof.js';

export type LogEvent = Record<string, unknown> & { id: string; severity: string; timestamp: string };

const FIELDS = [
  'id',
  'timestamp',
  'received_at',
  'severity',
  'action',
  'resource_type',
  'resource_id',
  'user_id',
  'ip_address',
  'user_agent',
  'hash',
];

/** Copies text; the async Clipboard API where the page may use it, else a selected textarea. */
export async function copyText(text: string, host: HTMLElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    host.shadowRoot?.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

export const proofStyles = css`
  ol.steps { padding-left: 1.2rem; }
  .pass { color: var(--ok); font-weight: 600; }
  .fail { color: var(--error); font-weight: 600; }
`;

/** One event: its fields, a before/after diff (jsondiffpatch), its JSON with a copy button, and its proof checked here. */
export class EventDetail extends LitElement {
  static override properties = {
    event: { attribute: false },
    api: { attribute: false },
    copied: { state: true },
    proof: { state: true },
    proofError: { state: true },
    checking: { state: true },
  };
  static override styles = [
    shared,
    unsafeCSS(diffCss),
    css`
      dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.8rem; margin: 0; }
      dt { color: var(--muted); }
      dd { margin: 0; overflow-wrap: anywhere; }
      .diff { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem; overflow: auto; }
      .jsondiffpatch-delta { color: var(--fg); }
      .jsondiffpatch-added .jsondiffpatch-property-name, .jsondiffpatch-added .jsondiffpatch-value pre, .jsondiffpatch-modified .jsondiffpatch-right-value pre { background: #d2f5d9; color: #0a3d17; }
      .jsondiffpatch-deleted .jsondiffpatch-property-name, .jsondiffpatch-deleted pre, .jsondiffpatch-modified .jsondiffpatch-left-value pre { background: #ffdcdc; color: #5c0a0a; }
      .jsondiffpatch-delta pre { border: 0; padding: 0 0.2rem; max-height: none; }
    `,
    proofStyles,
  ];

  event: LogEvent | null = null;
  api: ApiClient | null = null;
  copied = false;
  proof: ProofResult | null = null;
  proofError = '';
  checking = false;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('event')) {
      this.proof = null;
      this.proofError = '';
      this.copied = false;
    }
  }

  private async copy(): Promise<void> {
    await copyText(JSON.stringify(this.event, null, 2), this);
    this.copied = true;
  }

  private async verify(): Promise<void> {
    if (!this.event || !this.api) return;
    this.checking = true;
    this.proofError = '';
    try {
      const [proof, key] = await Promise.all([
        this.api.get<Proof>(`/api/v1/logs/${encodeURIComponent(this.event.id)}/proof`),
        this.api.get<{ public_key_pem: string }>('/api/v1/integrity/public-key'),
      ]);
      this.proof = await verifyProof(proof.data, key.data.public_key_pem);
    } catch (error) {
      this.proofError = error instanceof ApiError ? error.reason : String(error);
    } finally {
      this.checking = false;
    }
  }

  private renderDiff(event: LogEvent) {
    const before = (event.before as object | null) ?? {};
    const after = (event.after as object | null) ?? {};
    if (event.before == null && event.after == null) return html`<p class="muted">This event has no before or after.</p>`;
    const delta = diff(before, after);
    if (!delta) return html`<p class="muted">Before and after are the same.</p>`;
    // jsondiffpatch's HTML formatter escapes every key and value it prints.
    return html`<div class="diff" aria-label="Changes from before to after">${unsafeHTML(format(delta, before) ?? '')}</div>`;
  }

  override render() {
    const event = this.event;
    if (!event) return html``;
    return html`
      <section aria-labelledby="detail-title">
        <div class="row" style="justify-content:space-between">
          <h2 id="detail-title">Event <code>${event.id}</code></h2>
          <div class="row">
            <button type="button" @click=${() => this.copy()}>Copy as JSON</button>
            <button type="button" @click=${() => this.verify()} ?disabled=${this.checking}>Verify proof</button>
            <button type="button" @click=${() => this.dispatchEvent(new CustomEvent('close'))} aria-label="Close the event detail">Close</button>
          </div>
        </div>
        <p role="status" class="muted">${this.copied ? 'Copied the event as JSON.' : ''}</p>
        <dl>
          ${FIELDS.filter((key) => event[key] != null).map((key) => html`<dt>${key}</dt><dd>${String(event[key])}</dd>`)}
        </dl>
        ${this.renderProof()}
        <h3>Before → after</h3>
        ${this.renderDiff(event)}
        ${event.metadata ? html`<h3>Metadata</h3><pre>${JSON.stringify(event.metadata, null, 2)}</pre>` : ''}
        <details>
          <summary>JSON</summary>
          <pre>${JSON.stringify(event, null, 2)}</pre>
        </details>
      </section>
    `;
  }

  private renderProof() {
    if (this.checking) return html`<p role="status">Checking the proof…</p>`;
    if (this.proofError) return html`<p class="notice error" role="alert">${this.proofError}</p>`;
    return this.proof ? renderProofResult(this.proof) : '';
  }
}

/** A proof's verdict and every step, passed or failed (the event detail and the integrity view show it). */
export function renderProofResult({ verdict, steps }: ProofResult) {
  const text = {
    intact: 'Verified in this browser: this event is exactly what was sealed and signed.',
    changed: 'Changed: this event is not what was sealed.',
    invalid: 'The digest or its signature does not hold up.',
  }[verdict];
  return html`
    <div class="notice ${verdict === 'intact' ? 'ok' : 'error'}" role="status" data-verdict=${verdict}>
      <strong>${text}</strong>
      <ol class="steps">
        ${steps.map(
          (step) =>
            html`<li data-ok=${String(step.ok)}><span class=${step.ok ? 'pass' : 'fail'}>${step.ok ? '✓' : '✗'}</span> ${step.name}: ${step.detail}</li>`,
        )}
      </ol>
    </div>
  `;
}

customElements.define('ls-event-detail', EventDetail);
