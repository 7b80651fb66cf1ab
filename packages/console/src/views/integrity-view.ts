import { html, LitElement } from 'lit';
import { type ApiClient, ApiError } from '../api.js';
import { shared } from '../styles.js';
import { type Proof, type ProofResult, verifyProof } from '../verify-proof.js';
import { proofStyles, renderProofResult } from './event-detail.js';

interface Problem {
  kind: string;
  event_id: string;
  digest_seq: number | null;
  detail: string;
}

interface VerifyReport {
  status: 'intact' | 'tampered';
  digests_checked: number;
  events_sealed: number;
  events_verified: number;
  events_unsealed: number;
  deleted_by_cleanup: number;
  problems: Record<string, number>;
  first_problem: Problem | null;
  problem_samples: Problem[];
  chain: { intact: boolean; first_break: { digest_seq: number; reason: string } | null };
  checkpoints_checked: number;
  tree_size: number;
  tree: { intact: boolean; first_break: { tree_size: number; reason: string } | null };
}

const localToIso = (value: string) => (value ? new Date(value).toISOString() : undefined);

/**
 * Integrity (auditor, admin): the server's verify over a range of seals, and one event's proof
 * checked here in the browser, so the answer does not rest on the server's word.
 */
export class IntegrityView extends LitElement {
  static override properties = {
    api: { attribute: false },
    report: { state: true },
    error: { state: true },
    running: { state: true },
    proof: { state: true },
    proofError: { state: true },
  };
  static override styles = [shared, proofStyles];

  api: ApiClient | null = null;
  report: VerifyReport | null = null;
  error = '';
  running = false;
  proof: ProofResult | null = null;
  proofError = '';

  private async verifyRange(event: Event): Promise<void> {
    event.preventDefault();
    if (!this.api) return;
    const data = new FormData(event.target as HTMLFormElement);
    this.running = true;
    this.error = '';
    this.report = null;
    try {
      const answer = await this.api.get<VerifyReport>('/api/v1/logs/verify', {
        from: localToIso(String(data.get('from') ?? '')),
        to: localToIso(String(data.get('to') ?? '')),
      });
      this.report = answer.data;
    } catch (error) {
      this.error = error instanceof ApiError ? error.reason : String(error);
    } finally {
      this.running = false;
    }
  }

  private async verifyEvent(event: Event): Promise<void> {
    event.preventDefault();
    if (!this.api) return;
    const id = String(new FormData(event.target as HTMLFormElement).get('id') ?? '').trim();
    this.proof = null;
    this.proofError = '';
    if (!id) return;
    try {
      const [proof, key] = await Promise.all([
        this.api.get<Proof>(`/api/v1/logs/${encodeURIComponent(id)}/proof`),
        this.api.get<{ public_key_pem: string }>('/api/v1/integrity/public-key'),
      ]);
      this.proof = await verifyProof(proof.data, key.data.public_key_pem);
    } catch (error) {
      this.proofError = error instanceof ApiError ? error.reason : String(error);
    }
  }

  override render() {
    return html`
      <section aria-labelledby="verify-title">
        <h2 id="verify-title">Verify the log</h2>
        <p class="muted">The server recomputes every event sealed in the range against its signed checkpoints (and older digests). Leave both empty to check everything.</p>
        <form class="row" @submit=${(e: Event) => this.verifyRange(e)}>
          <label>Sealed from (local time)<input name="from" type="datetime-local" step="1" /></label>
          <label>Sealed before (local time)<input name="to" type="datetime-local" step="1" /></label>
          <button type="submit" class="primary" ?disabled=${this.running}>Verify range</button>
        </form>
        ${this.running ? html`<p role="status">Verifying…</p>` : ''}
        ${this.error ? html`<p class="notice error" role="alert">${this.error}</p>` : ''}
        ${this.report ? this.renderReport(this.report) : ''}
      </section>
      <section aria-labelledby="proof-title">
        <h2 id="proof-title">Check one event's proof in this browser</h2>
        <p class="muted">SHA-256 of the event's RFC 8785 JSON, its RFC 6962 Merkle path to the signed root, and the Ed25519 signature, with WebCrypto.</p>
        <form class="row" @submit=${(e: Event) => this.verifyEvent(e)}>
          <label style="flex:1 1 24rem">Event id<input name="id" required autocomplete="off" /></label>
          <button type="submit" class="primary">Check proof</button>
        </form>
        ${this.proofError ? html`<p class="notice error" role="alert">${this.proofError}</p>` : ''}
        ${this.proof ? renderProofResult(this.proof) : ''}
      </section>
    `;
  }

  private renderReport(report: VerifyReport) {
    const intact = report.status === 'intact';
    return html`
      <div class="notice ${intact ? 'ok' : 'error'}" role="status" data-status=${report.status}>
        <strong>${intact ? 'Intact' : 'Tampered'}</strong>:
        ${report.checkpoints_checked} checkpoints (a tree of ${report.tree_size}), ${report.digests_checked} older digests,
        ${report.events_verified} of ${report.events_sealed} sealed events verified,
        ${report.events_unsealed} not sealed yet, ${report.deleted_by_cleanup} deleted by cleanups.
        ${report.chain.first_break ? html`<p>Chain broken at digest ${report.chain.first_break.digest_seq}: ${report.chain.first_break.reason}</p>` : ''}
        ${report.tree.first_break ? html`<p>Tree broken at checkpoint ${report.tree.first_break.tree_size}: ${report.tree.first_break.reason}</p>` : ''}
      </div>
      ${
        report.problem_samples.length
          ? html`<div class="table-wrap"><table aria-label="What changed and where">
            <thead><tr><th scope="col">Kind</th><th scope="col">Event</th><th scope="col">Digest</th><th scope="col">Detail</th></tr></thead>
            <tbody>
              ${report.problem_samples.map(
                (p) =>
                  html`<tr data-kind=${p.kind}><td>${p.kind}</td><td><code>${p.event_id}</code></td><td>${p.digest_seq ?? '–'}</td><td>${p.detail}</td></tr>`,
              )}
            </tbody>
          </table></div>
          <p class="muted">Counts: ${Object.entries(report.problems)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}</p>`
          : ''
      }
    `;
  }
}

customElements.define('ls-integrity', IntegrityView);
