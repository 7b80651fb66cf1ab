import { html, LitElement } from 'lit';
import { type ApiClient, ApiError } from '../api.js';
import { shared } from '../styles.js';
import { copyText } from './event-detail.js';

interface Tenant {
  key: string;
  name: string;
  created_at: string;
}

/** Platform admin: the tenants, and a new tenant whose signing key is shown this once, with a copy button. */
export class TenantsView extends LitElement {
  static override properties = {
    api: { attribute: false },
    tenants: { state: true },
    created: { state: true },
    error: { state: true },
    copied: { state: true },
  };
  static override styles = [shared];

  api: ApiClient | null = null;
  tenants: Tenant[] = [];
  created: (Tenant & { secret: string }) | null = null;
  error = '';
  copied = false;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('api')) void this.load();
  }

  private async load(): Promise<void> {
    if (!this.api) return;
    try {
      this.tenants = (await this.api.get<Tenant[]>('/api/v1/tenants')).data;
    } catch (error) {
      this.error = error instanceof ApiError ? error.reason : String(error);
    }
  }

  private async create(event: Event): Promise<void> {
    event.preventDefault();
    if (!this.api) return;
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    this.error = '';
    this.copied = false;
    try {
      const answer = await this.api.post<Tenant & { secret: string }>('/api/v1/tenants', {
        key: String(data.get('key') ?? '').trim(),
        name: String(data.get('name') ?? '').trim(),
      });
      this.created = answer.data;
      form.reset();
      await this.load();
    } catch (error) {
      this.error = error instanceof ApiError ? error.reason : String(error);
    }
  }

  override render() {
    return html`
      <h2>Tenants</h2>
      <form class="row" @submit=${(e: Event) => this.create(e)} aria-label="Create a tenant">
        <label>Key (a-z, 0-9, _ and -)<input name="key" required pattern="[a-z0-9_\\-]+" maxlength="64" autocomplete="off" /></label>
        <label>Name<input name="name" required maxlength="128" autocomplete="off" /></label>
        <button type="submit" class="primary">Create tenant</button>
      </form>
      ${this.error ? html`<p class="notice error" role="alert">${this.error}</p>` : ''}
      ${
        this.created
          ? html`<div class="notice ok" role="status">
            <p>Created <strong>${this.created.key}</strong>. Its signing key is shown only now: store it where the tenant's token issuer can read it.</p>
            <p><label>Signing key of ${this.created.key}<input id="secret" readonly .value=${this.created.secret} size="66" /></label></p>
            <button type="button" @click=${async () => {
              await copyText(this.created?.secret ?? '', this);
              this.copied = true;
            }}>Copy the signing key</button>
            <span role="status">${this.copied ? 'Copied.' : ''}</span>
            <button type="button" @click=${() => (this.created = null)}>I have stored it</button>
          </div>`
          : ''
      }
      <div class="table-wrap" style="margin-top:0.8rem">
        <table aria-label="Tenants">
          <thead><tr><th scope="col">Key</th><th scope="col">Name</th><th scope="col">Created</th></tr></thead>
          <tbody>${this.tenants.map((t) => html`<tr data-key=${t.key}><td>${t.key}</td><td>${t.name}</td><td>${t.created_at}</td></tr>`)}</tbody>
        </table>
      </div>
    `;
  }
}

customElements.define('ls-tenants', TenantsView);
