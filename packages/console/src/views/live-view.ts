import { css, html, LitElement } from 'lit';
import ReconnectingWebSocket from 'partysocket/ws';
import type { ApiClient } from '../api.js';
import { emptyFilters, type Filters, toApiParams } from '../filters.js';
import { shared } from '../styles.js';
import type { LogEvent } from './event-detail.js';
import { timeText } from './events-view.js';

/** Events kept on screen; older ones fall off the bottom (the table view has them all). */
export const LIVE_MAX_ROWS = 500;
/** Events held while paused; beyond this they are counted, not kept, so a paused tab cannot grow without bound. */
export const LIVE_MAX_PAUSED = 1000;

type Connection = 'connecting' | 'live' | 'catching up' | 'reconnecting' | 'stopped';

/**
 * The live stream with the same filters (time ranges aside: live is "from now"). Reconnects with
 * backoff (partysocket) and asks for `after=` the last event's cursor (or the cursor of the
 * server's `closing` frame, or the head cursor the stream starts with), so nothing stored between
 * the two connections is missed or repeated.
 */
export class LiveView extends LitElement {
  static override properties = {
    api: { attribute: false },
    filters: { attribute: false },
    events: { state: true },
    paused: { state: true },
    held: { state: true },
    state: { state: true },
    notices: { state: true },
  };
  static override styles = [
    shared,
    css`
      .state { font-weight: 600; }
      .state[data-state='live'] { color: var(--ok); }
      ul.notices { list-style: none; padding: 0; margin: 0; }
    `,
  ];

  api: ApiClient | null = null;
  filters: Filters = emptyFilters();
  events: LogEvent[] = [];
  paused = false;
  held: LogEvent[] = [];
  private heldOver = 0;
  state: Connection = 'stopped';
  notices: string[] = [];
  private socket: ReconnectingWebSocket | null = null;
  private cursor: string | null = null;
  private opened = 0;

  override connectedCallback(): void {
    super.connectedCallback();
    this.connect();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.socket?.close();
    this.socket = null;
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if ((changed.has('filters') || changed.has('api')) && this.isConnected && this.socket) {
      this.events = [];
      this.held = [];
      this.cursor = null;
      this.connect();
    }
  }

  private note(text: string): void {
    this.notices = [`${new Date().toLocaleTimeString()} ${text}`, ...this.notices].slice(0, 20);
  }

  private connect(): void {
    this.socket?.close();
    if (!this.api) return;
    const api = this.api;
    const { from: _from, to: _to, timestamp: _day, ...params } = toApiParams(this.filters);
    this.state = 'connecting';
    const socket = new ReconnectingWebSocket(() => api.streamUrl(this.cursor ? { ...params, after: this.cursor } : params), [], {
      minReconnectionDelay: 500,
      maxReconnectionDelay: 10_000,
      // 4001: the token expired; reconnecting with it cannot work.
      shouldReconnectOnClose: (event) => event.code !== 4001,
    });
    socket.addEventListener('open', () => {
      if (this.opened++ > 0)
        this.note(
          this.cursor
            ? 'Reconnected; resuming after the last event received.'
            : 'Reconnected. Events sent while disconnected are not shown here: see the Events view.',
        );
      this.state = 'live';
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      if (event.code === 4001) {
        this.state = 'stopped';
        this.note('The stream ended: the token expired. Sign in again.');
        return;
      }
      this.state = 'reconnecting';
      this.note(`Connection lost${event.reason ? ` (${event.reason})` : ''}; reconnecting…`);
    });
    socket.addEventListener('message', (message) => this.receive(String(message.data)));
    this.socket = socket;
  }

  private receive(text: string): void {
    if (text === 'pong') return;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === 'closing') {
      // The server is closing on purpose (shutdown, token expiry, a limit): resume where it says.
      if (typeof frame.after === 'string') this.cursor = frame.after;
      return;
    }
    if (frame.type === 'cursor_expired') {
      this.note('Some events after the last one shown were deleted by a cleanup; resuming at the oldest one kept.');
      return;
    }
    if (frame.type === 'catching_up') {
      this.state = 'catching up';
      return;
    }
    if (frame.type === 'live') {
      // The head of the store when the stream opened without a cursor: a cut before the first
      // event still resumes from here.
      if (typeof frame.cursor === 'string') this.cursor = frame.cursor;
      this.state = 'live';
      return;
    }
    if (typeof frame.type === 'string' && !('id' in frame)) return;
    if (typeof frame.cursor === 'string') this.cursor = frame.cursor;
    const { cursor: _cursor, ...event } = frame;
    this.add(event as LogEvent);
  }

  private add(event: LogEvent): void {
    if (this.paused) {
      if (this.held.length < LIVE_MAX_PAUSED) this.held = [...this.held, event];
      else this.heldOver++;
      return;
    }
    this.events = [event, ...this.events].slice(0, LIVE_MAX_ROWS);
  }

  private togglePause(): void {
    if (this.paused) {
      this.paused = false;
      this.events = [...this.held.reverse(), ...this.events].slice(0, LIVE_MAX_ROWS);
      if (this.heldOver > 0)
        this.note(`${this.heldOver} events arrived while paused beyond the ${LIVE_MAX_PAUSED} kept; see the Events view.`);
      this.held = [];
      this.heldOver = 0;
    } else {
      this.paused = true;
    }
  }

  override render() {
    const ranged = this.filters.range !== '';
    return html`
      <div class="row" style="justify-content:space-between">
        <p role="status" aria-live="polite">
          Stream: <span class="state" data-state=${this.state}>${this.state}</span>
          ${this.paused ? html` · paused, <span id="held">${this.held.length + this.heldOver}</span> new` : ''}
          ${ranged ? html` · <span class="muted">the time range does not apply: live shows events from now on</span>` : ''}
        </p>
        <div class="row">
          <button type="button" aria-pressed=${this.paused ? 'true' : 'false'} @click=${() => this.togglePause()}>${this.paused ? 'Resume' : 'Pause'}</button>
          <button type="button" @click=${() => (this.events = [])}>Clear</button>
        </div>
      </div>
      ${this.notices.length ? html`<ul class="notices" role="log" aria-label="Stream notices">${this.notices.map((n) => html`<li class="notice">${n}</li>`)}</ul>` : ''}
      <div class="table-wrap">
        <table aria-label="Live events, newest first">
          <thead><tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">User</th></tr></thead>
          <tbody>
            ${this.events.map(
              (e) => html`<tr data-id=${e.id}>
                <td><time datetime=${e.timestamp}>${timeText(e.timestamp)}</time></td>
                <td><span class="sev sev-${e.severity}">${e.severity}</span></td>
                <td>${String(e.action ?? '')}</td>
                <td>${String(e.resource_type ?? '')}/${String(e.resource_id ?? '')}</td>
                <td>${String(e.user_id ?? '')}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.events.length === 0 ? html`<p class="muted">Waiting for events…</p>` : ''}
    `;
  }
}

customElements.define('ls-live', LiveView);
