import { html, LitElement } from 'lit';
import { type ApiClient, ApiError, type Params } from '../api.js';
import { shared } from '../styles.js';

/**
 * Cleanup (admin): deletes the tenant's events older than a cut-off, after the admin types the
 * tenant's key to confirm. The API records the cleanup as a `logs.cleanup` event, and verify
 * reports what it deleted as cleanup, not tampering.
 */
export class CleanupView extends LitElement {
  static override properties = {
    api: { attribute: false },
    tenant: { type: String },
    mode: { state: true },
    result: { state: true },
    error: { state: true },
  };
  static override styles = [shared];

  api: ApiClient | null = null;
  tenant = '';
  mode: 'older_than_days' | 'before' = 'older_than_days';
  result = '';
  error = '';

  private async run(event: Event): Promise<void> {
    event.preventDefault();
    if (!this.api) return;
    const data = new FormData(event.target as HTMLFormElement);
    this.error = '';
    this.result = '';
    if (String(data.get('confirm') ?? '') !== this.tenant) {
      this.error = `Type the tenant's key (${this.tenant}) to confirm.`;
      return;
    }
    const params: Params =
      this.mode === 'older_than_days'
        ? { older_than_days: String(data.get('days') ?? '') }
        : { before: new Date(String(data.get('before') ?? '')).toISOString() };
    try {
      const answer = await this.api.call<{ deleted_count: number }>('/api/v1/logs/cleanup', { method: 'DELETE', params });
      this.result = `Deleted ${answer.data.deleted_count} events.`;
    } catch (error) {
      this.error = error instanceof ApiError ? error.reason : String(error);
    }
  }

  override render() {
    return html`
      <h2>Delete old events</h2>
      <p class="muted">Deletes this tenant's events older than the cut-off. It cannot be undone; it is itself recorded as a <code>logs.cleanup</code> event.</p>
      <form @submit=${(e: Event) => this.run(e)} aria-label="Cleanup">
        <div class="row">
          <label>Cut-off
            <select @change=${(e: Event) => (this.mode = (e.target as HTMLSelectElement).value as typeof this.mode)}>
              <option value="older_than_days" ?selected=${this.mode === 'older_than_days'}>Older than a number of days</option>
              <option value="before" ?selected=${this.mode === 'before'}>Before a date and time</option>
            </select>
          </label>
          ${
            this.mode === 'older_than_days'
              ? html`<label>Days<input name="days" type="number" min="1" max="36500" required value="90" /></label>`
              : html`<label>Before (local time)<input name="before" type="datetime-local" step="1" required /></label>`
          }
          <label>Type <strong>${this.tenant}</strong> to confirm<input name="confirm" autocomplete="off" /></label>
          <button type="submit" class="primary">Delete events</button>
        </div>
      </form>
      ${this.error ? html`<p class="notice error" role="alert">${this.error}</p>` : ''}
      ${this.result ? html`<p class="notice ok" role="status">${this.result}</p>` : ''}
    `;
  }
}

customElements.define('ls-cleanup', CleanupView);
