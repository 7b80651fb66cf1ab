import { css, html, LitElement } from 'lit';
import { shared } from './styles.js';
import { claimsOf } from './token.js';
import './viewer.js';

const TOKEN_KEY = 'logserver-console.token';

/**
 * Takes a token from `#token=…` (a fragment never reaches a server), keeps it in sessionStorage
 * (this tab only, gone when it closes) and removes it from the address bar at once, so it is in
 * no bookmark, shared link, history entry or Referer.
 */
export function takeTokenFromFragment(): string | null {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('token');
  if (token === null) return null;
  hash.delete('token');
  const rest = hash.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
  return token.trim();
}

function storedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function storeToken(token: string): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // sessionStorage refused (a strict privacy setting): the token then lasts until the page is reloaded
  }
}

/** The /console page: sign-in, then the viewer with the view and filters in the address. */
export class LogserverConsole extends LitElement {
  static override properties = { token: { state: true }, reason: { state: true } };
  static override styles = [
    shared,
    css`
      header { display: flex; flex-wrap: wrap; align-items: center; gap: 0.8rem; padding: 0.6rem 1rem; border-bottom: 1px solid var(--line); }
      header h1 { font-size: 1.1rem; margin: 0; }
      main { padding: 0.8rem 1rem 2rem; max-width: 110rem; margin: 0 auto; }
      .signin { max-width: 36rem; margin: 2rem auto; }
      textarea { width: 100%; min-height: 6rem; font-family: ui-monospace, monospace; font-size: 0.85rem; }
    `,
  ];

  token = '';
  reason = '';

  // A sign-in link opened in a tab that already shows the console changes only the fragment.
  private readonly onHashChange = () => {
    const token = takeTokenFromFragment();
    if (!token) return;
    storeToken(token);
    this.reason = '';
    this.token = token;
  };

  override connectedCallback(): void {
    super.connectedCallback();
    const fromFragment = takeTokenFromFragment();
    if (fromFragment) storeToken(fromFragment);
    this.token = storedToken();
    addEventListener('hashchange', this.onHashChange);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('hashchange', this.onHashChange);
  }

  private signIn(event: Event): void {
    event.preventDefault();
    const token = String(new FormData(event.target as HTMLFormElement).get('token') ?? '')
      .trim()
      .replace(/^Bearer\s+/i, '');
    if (!token) return;
    if (!claimsOf(token)) {
      this.reason = 'That is not a token: a logserver token is a JWT, three base64url parts separated by dots.';
      return;
    }
    this.reason = '';
    storeToken(token);
    this.token = token;
  }

  private signOut(reason = ''): void {
    storeToken('');
    this.token = '';
    this.reason = reason;
  }

  override render() {
    return html`
      <header>
        <h1>logserver console</h1>
        <span style="flex:1"></span>
        ${this.token ? html`<button type="button" @click=${() => this.signOut()}>Sign out</button>` : ''}
        <a href="/docs">API docs</a>
      </header>
      <main>${this.token ? this.renderViewer() : this.renderSignIn()}</main>
    `;
  }

  private renderViewer() {
    return html`<logserver-viewer
      sync-url
      .token=${this.token}
      @token-rejected=${(e: CustomEvent<{ reason: string }>) => this.signOut(e.detail.reason)}
    ></logserver-viewer>`;
  }

  private renderSignIn() {
    return html`
      <section class="signin panel" aria-labelledby="signin-title">
        <h2 id="signin-title">Sign in with a token</h2>
        ${this.reason ? html`<div class="notice error" role="alert" id="reason"><strong>Signed out.</strong> ${this.reason}</div>` : ''}
        <p class="muted">
          Paste a bearer token of your tenant (viewer, auditor or admin), or open the link that <code>make start</code> prints.
          The token stays in this browser tab only and is sent only to this server's API.
        </p>
        <form @submit=${(e: Event) => this.signIn(e)}>
          <label>Token<textarea name="token" required autocomplete="off" spellcheck="false"></textarea></label>
          <p><button type="submit" class="primary">Sign in</button></p>
        </form>
      </section>
    `;
  }
}

customElements.define('logserver-console', LogserverConsole);
