import type { LogEvent, LogFilter } from './types.js';

/** The WebSocket constructor to use: the standard one (browsers, Node 22+) or `ws` on Node 20. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketLike {
  readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface LiveStreamOptions {
  filter?: LogFilter | undefined;
  /** Called for every stored event, in the order the server stored them, each id once, with its cursor. */
  onEvent: (event: LogEvent, cursor: string | undefined) => void;
  /**
   * `connecting`, `open`, `reconnecting` (with the delay), `catching_up` (the server is reading what
   * this client missed from its store), `live` (the replay or catch-up is over), `cursor_expired`
   * (the resume cursor's event was deleted by a cleanup: resumed at the oldest event after it), `closed` (for good).
   */
  onState?: ((state: StreamState, detail?: string) => void) | undefined;
  /** Reconnect delays grow from this to maxDelayMs. */
  minDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
  /** Resume after this cursor (a resumable server's frames carry one). */
  after?: string | undefined;
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'catching_up' | 'live' | 'cursor_expired' | 'closed';

/**
 * Why a connection that never opened failed, asked over plain HTTP: a refusal (401, 403, 404, 422)
 * that retrying cannot fix, or null to retry (the server was unreachable, or it would have accepted).
 */
export type Diagnose = (query: URLSearchParams) => Promise<{ code: number; reason: string } | null>;

export interface LiveStream {
  /** The last event's cursor (or the head cursor the stream started with), when the server gives cursors: keep it to resume later. */
  readonly cursor: string | undefined;
  close(): void;
  /** Resolves once the stream is closed for good (by close(), or a refusal that retrying cannot fix). */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** Close codes after which reconnecting cannot help: a policy refusal (1008 is retried: a tenant limit may free up). */
const FINAL_CLOSE = new Set([4401, 4403, 1003]);
/** 4001: the token expired; the next connect asks for a fresh token, so it is retried. */

/** The server ends every close reason it gives with the cursor to resume from (docs/stream.md). */
const REASON_CURSOR = /; after=([A-Za-z0-9_-]+)$/;

/**
 * The live stream with automatic reconnection. Every event frame carries its `cursor` (docs/stream.md);
 * each reconnect asks for `after=<last cursor>`, so the server first replays from its store what
 * was committed while this client was away, then goes on live: nothing is missed and nothing comes
 * twice. A stream opened without a cursor starts with a `live` frame carrying the head cursor, which is
 * kept too, so a connection cut before its first event resumes from there. A server that closes on purpose (token expiry, shutdown, a limit) says in a last `closing`
 * frame, and at the end of the close reason, where to resume; that cursor is kept too, so even a
 * stream that has not received an event yet resumes from where it was. (A server without cursors
 * gets a reconnect with new events only.) Ids already delivered (the last 10 000) are never
 * delivered again, as a second guard.
 *
 * A connection that fails before it opens is diagnosed over HTTP (`diagnose`): the server's 401, 403
 * or 422 (a bad filter, a bad or foreign cursor) ends the stream with that reason, as a WebSocket
 * client cannot read the refusal itself; anything else is retried with backoff.
 */
export function openLiveStream(
  connect: (query: URLSearchParams) => Promise<string>,
  WebSocketImpl: WebSocketClass,
  options: LiveStreamOptions,
  diagnose?: Diagnose,
): LiveStream {
  const minDelay = options.minDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 15_000;
  let cursor = options.after;
  let socket: WebSocketLike | null = null;
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pinger: ReturnType<typeof setInterval> | undefined;
  const seen = new Set<string>();
  let finish: (value: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    finish = resolve;
  });
  const remember = (id: string) => {
    seen.add(id);
    if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
  };
  const end = (code: number, reason: string) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    clearInterval(pinger);
    options.onState?.('closed', reason);
    finish({ code, reason });
  };

  const schedule = () => {
    const delay = Math.min(maxDelay, minDelay * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2);
    failures++;
    options.onState?.('reconnecting', `${Math.round(delay)} ms`);
    timer = setTimeout(() => void open(), delay);
  };

  async function open(): Promise<void> {
    if (stopped) return;
    options.onState?.('connecting');
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.filter ?? {})) {
      if (value !== undefined) query.set(key, Array.isArray(value) ? value.join(',') : String(value));
    }
    if (cursor !== undefined) query.set('after', cursor);
    let opened = false;
    let url: string;
    try {
      url = await connect(query);
    } catch (error) {
      end(0, error instanceof Error ? error.message : String(error));
      return;
    }
    const ws = new WebSocketImpl(url);
    socket = ws;
    ws.onopen = () => {
      opened = true;
      failures = 0;
      options.onState?.('open');
      clearInterval(pinger);
      // The server answers a text ping with pong; it keeps proxies from closing an idle stream.
      pinger = setInterval(() => ws.readyState === 1 && ws.send('ping'), 25_000);
    };
    ws.onmessage = ({ data }) => {
      const text = typeof data === 'string' ? data : String(data);
      if (text === 'pong') return;
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (frame.type === 'closing') {
        // The cursor of the last event the server sent on this connection (or where it started).
        if (typeof frame.after === 'string') cursor = frame.after;
        return;
      }
      if (frame.type === 'catching_up' || frame.type === 'live') {
        // live carries the cursor to resume from: the head of the store on a stream opened without
        // one, so a connection cut before its first event still resumes without a gap.
        if (frame.type === 'live' && typeof frame.cursor === 'string') cursor = frame.cursor;
        options.onState?.(frame.type);
        return;
      }
      if (frame.type === 'cursor_expired') {
        options.onState?.('cursor_expired', typeof frame.message === 'string' ? frame.message : undefined);
        return;
      }
      if (typeof frame.id !== 'string') return;
      const frameCursor = typeof frame.cursor === 'string' ? frame.cursor : undefined;
      if (frameCursor !== undefined) cursor = frameCursor;
      if (seen.has(frame.id)) return;
      remember(frame.id);
      const { cursor: _cursor, ...event } = frame;
      options.onEvent(event as unknown as LogEvent, frameCursor);
    };
    ws.onerror = () => {};
    ws.onclose = ({ code, reason }) => {
      clearInterval(pinger);
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      const resumeAt = REASON_CURSOR.exec(reason ?? '')?.[1];
      if (resumeAt !== undefined) cursor = resumeAt;
      if (FINAL_CLOSE.has(code)) end(code, reason);
      else if (!opened && diagnose !== undefined) void refusedOrRetry(query);
      else schedule();
    };
  }

  async function refusedOrRetry(query: URLSearchParams): Promise<void> {
    let refusal: { code: number; reason: string } | null = null;
    try {
      refusal = (await diagnose?.(query)) ?? null;
    } catch {
      refusal = null;
    }
    if (stopped) return;
    if (refusal === null) schedule();
    else end(refusal.code, refusal.reason);
  }

  void open();
  return {
    get cursor() {
      return cursor;
    },
    close() {
      const current = socket;
      socket = null;
      current?.close(1000, 'client closed');
      end(1000, 'client closed');
    },
    closed,
  };
}
