import { css, html, LitElement, type PropertyValues } from 'lit';
import { ApiClient, ApiError } from './api.js';
import { emptyFilters, type Filters, fromUrlParams, toUrlParams } from './filters.js';
import { shared } from './styles.js';
import { canExport, canVerify, claimsOf, type TokenClaims } from './token.js';
import './views/charts-view.js';
import './views/cleanup-view.js';
import './views/events-view.js';
import './views/export-view.js';
import './views/filter-bar.js';
import './views/integrity-view.js';
import './views/live-view.js';
import './views/tenants-view.js';

const VIEWS = [
  { key: 'events', label: 'Events', filtered: true },
  { key: 'live', label: 'Live', filtered: true },
  { key: 'charts', label: 'Charts', filtered: true },
  { key: 'export', label: 'Export', filtered: true },
  { key: 'integrity', label: 'Integrity', filtered: false },
  { key: 'cleanup', label: 'Cleanup', filtered: false },
  { key: 'tenants', label: 'Tenants', filtered: false },
] as const;
type View = (typeof VIEWS)[number]['key'];

type Access = 'none' | 'checking' | 'ok' | 'denied';

/**
 * `<logserver-viewer base-url="https://logs.example.com" token="…">`: every view of the console as
 * one web component, for the console page and for any page that embeds it. It talks to the API
 * at `base-url` (default: this page's origin) with the bearer token and nothing else: no cookies.
 * With `sync-url`, the view and the filters live in the page's address (never the token).
 */
export class LogserverViewer extends LitElement {
  static override properties = {
    baseUrl: { type: String, attribute: 'base-url' },
    token: { type: String },
    view: { type: String, reflect: true },
    syncUrl: { type: Boolean, attribute: 'sync-url' },
    filters: { state: true },
    sort: { state: true },
    access: { state: true },
    reason: { state: true },
    platformAdmin: { state: true },
  };
  static override styles = [
    shared,
    css`
      nav { display: flex; gap: 0.2rem; border-bottom: 1px solid var(--line); margin-bottom: 0.8rem; overflow-x: auto; }
      [role='tab'] { border: 0; border-bottom: 3px solid transparent; border-radius: 0; background: none; padding: 0.5rem 0.9rem; }
      [role='tab'][aria-selected='true'] { border-bottom-color: var(--accent); font-weight: 600; }
      .who { margin-left: auto; align-self: center; white-space: nowrap; padding: 0 0.4rem; }
      .denied { max-width: 40rem; margin: 2rem auto; }
    `,
  ];

  baseUrl = '';
  token = '';
  view: View = 'events';
  syncUrl = false;
  filters: Filters = emptyFilters();
  sort: 'asc' | 'desc' = 'desc';
  access: Access = 'none';
  reason = '';
  platformAdmin = false;
  private api: ApiClient | null = null;
  private claims: TokenClaims | null = null;
  private readonly onPopState = () => this.readUrl();

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.syncUrl) {
      this.readUrl();
      addEventListener('popstate', this.onPopState);
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('popstate', this.onPopState);
  }

  private readUrl(): void {
    const params = new URLSearchParams(location.search);
    this.filters = fromUrlParams(params);
    const view = params.get('view');
    if (VIEWS.some((v) => v.key === view)) this.view = view as View;
    this.sort = params.get('sort') === 'asc' ? 'asc' : 'desc';
  }

  private writeUrl(): void {
    if (!this.syncUrl) return;
    const params = toUrlParams(this.filters);
    if (this.view !== 'events') params.set('view', this.view);
    if (this.sort !== 'desc') params.set('sort', this.sort);
    const search = params.toString();
    const url = `${location.pathname}${search ? `?${search}` : ''}`;
    if (url !== `${location.pathname}${location.search}`) history.replaceState(null, '', url);
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('token') || changed.has('baseUrl')) void this.signIn();
  }

  override updated(changed: PropertyValues<this>): void {
    if (changed.has('filters') || changed.has('view') || changed.has('sort')) this.writeUrl();
  }

  /** Checks the token with the API once, so an expired token or a missing role is said up front with the API's reason. */
  private async signIn(): Promise<void> {
    this.api = null;
    this.platformAdmin = false;
    if (!this.token) {
      this.access = 'none';
      return;
    }
    this.claims = claimsOf(this.token);
    const api = new ApiClient(this.baseUrl || location.origin, this.token);
    this.access = 'checking';
    try {
      await api.get('/api/v1/logs', { size: '1' });
    } catch (error) {
      this.deny(error);
      return;
    }
    if (this.claims?.role === 'admin') {
      this.platformAdmin = await api.get('/api/v1/tenants').then(
        () => true,
        () => false,
      );
    }
    this.api = api;
    this.access = 'ok';
    if (!this.allowed(this.view)) this.view = 'events';
  }

  private deny(error: unknown): void {
    this.access = 'denied';
    const role = this.claims?.role ?? 'unknown';
    const exp = this.claims?.exp;
    // The API says only "Unauthorized" (it tells a stranger nothing); the token's own exp says why, when that is the reason.
    const expired = typeof exp === 'number' && exp * 1000 <= Date.now() ? ` It expired at ${new Date(exp * 1000).toLocaleString()}.` : '';
    if (error instanceof ApiError && error.status === 401) this.reason = `The server refused this token: ${error.reason}.${expired}`;
    else if (error instanceof ApiError && error.status === 403)
      this.reason = `This token's role (${role}) may not read the audit log: ${error.reason}.`;
    else this.reason = error instanceof ApiError ? error.reason : String(error);
    this.dispatchEvent(new CustomEvent('token-rejected', { detail: { reason: this.reason }, bubbles: true, composed: true }));
  }

  private allowed(view: View): boolean {
    const role = this.claims?.role;
    if (view === 'export') return canExport(role);
    if (view === 'integrity') return canVerify(role);
    if (view === 'cleanup') return role === 'admin';
    if (view === 'tenants') return this.platformAdmin;
    return true;
  }

  private select(view: View, focus = false): void {
    this.view = view;
    if (focus)
      void this.updateComplete.then(() => (this.renderRoot.querySelector(`[role=tab][data-view=${view}]`) as HTMLElement | null)?.focus());
  }

  private tabKeys(event: KeyboardEvent): void {
    const tabs = VIEWS.filter((v) => this.allowed(v.key));
    const at = tabs.findIndex((v) => v.key === this.view);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    if (tab) this.select(tab.key, true);
  }

  override render() {
    if (this.access === 'none') return html`<p class="muted">No token: set the <code>token</code> attribute.</p>`;
    if (this.access === 'checking') return html`<p role="status">Checking the token…</p>`;
    if (this.access === 'denied')
      return html`<div class="denied notice error" role="alert"><h2>Cannot show this audit log</h2><p id="reason">${this.reason}</p></div>`;
    const tabs = VIEWS.filter((v) => this.allowed(v.key));
    const current = VIEWS.find((v) => v.key === this.view) ?? VIEWS[0];
    const claims = this.claims;
    return html`
      <nav role="tablist" aria-label="Console views" @keydown=${(e: KeyboardEvent) => this.tabKeys(e)}>
        ${tabs.map(
          (v) => html`<button
            role="tab"
            id="tab-${v.key}"
            data-view=${v.key}
            aria-selected=${v.key === this.view ? 'true' : 'false'}
            aria-controls="panel"
            tabindex=${v.key === this.view ? '0' : '-1'}
            @click=${() => this.select(v.key)}
          >${v.label}</button>`,
        )}
        <span class="who muted">${claims?.tenant ?? ''} · ${claims?.sub ?? ''} · ${claims?.role ?? ''}</span>
      </nav>
      <div id="panel" role="tabpanel" aria-labelledby="tab-${current.key}">
        ${current.filtered ? html`<ls-filter-bar .filters=${this.filters} @filters-change=${(e: CustomEvent<Filters>) => (this.filters = e.detail)}></ls-filter-bar>` : ''}
        ${this.renderView(current.key)}
      </div>
    `;
  }

  private renderView(view: View) {
    switch (view) {
      case 'events':
        return html`<ls-events .api=${this.api} .filters=${this.filters} .sort=${this.sort} @sort-change=${(e: CustomEvent<'asc' | 'desc'>) => (this.sort = e.detail)}></ls-events>`;
      case 'live':
        return html`<ls-live .api=${this.api} .filters=${this.filters}></ls-live>`;
      case 'charts':
        return html`<ls-charts .api=${this.api} .filters=${this.filters}></ls-charts>`;
      case 'export':
        return html`<ls-export .api=${this.api} .filters=${this.filters}></ls-export>`;
      case 'integrity':
        return html`<ls-integrity .api=${this.api}></ls-integrity>`;
      case 'cleanup':
        return html`<ls-cleanup .api=${this.api} tenant=${this.claims?.tenant ?? ''}></ls-cleanup>`;
      case 'tenants':
        return html`<ls-tenants .api=${this.api}></ls-tenants>`;
    }
  }
}

if (!customElements.get('logserver-viewer')) customElements.define('logserver-viewer', LogserverViewer);
