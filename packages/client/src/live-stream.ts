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
  /** Called for every stored event, in the order the server stored them, each id once. */
  onEvent: (event: LogEvent) => void;
  /** `connecting`, `open`, `reconnecting` (with the delay), `catching_up`, `live`, `closed` (for good). */
  onState?: ((state: StreamState, detail?: string) => void) | undefined;
  /** Reconnect delays grow from this to maxDelayMs. */
  minDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
  /** Resume after this cursor (a resumable server's frames carry one). */
  after?: string | undefined;
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'catching_up' | 'live' | 'closed';

export interface LiveStream {
  /** The last event's cursor, when the server gives cursors: keep it to resume later. */
  readonly cursor: string | undefined;
  close(): void;
  /** Resolves once the stream is closed for good (by close(), or a refusal that retrying cannot fix). */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** Close codes after which reconnecting cannot help: a policy refusal (1008 is retried: a tenant limit may free up). */
const FINAL_CLOSE = new Set([4401, 4403, 1003]);
/** 4001: the token expired; the next connect asks for a fresh token, so it is retried. */

/**
 * The live stream with automatic reconnection. Where the server's frames carry a `cursor`
 * (the resumable stream, DESIGN §8), each reconnect asks for `after=<last cursor>`, so nothing
 * stored while disconnected is missed; without cursors a reconnect resumes with new events only.
 * Events already delivered (by id, over the last 10 000) are never delivered twice.
 */
export function openLiveStream(
  connect: (query: URLSearchParams) => Promise<string>,
  WebSocketImpl: WebSocketClass,
  options: LiveStreamOptions,
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
      if (frame.type === 'catching_up' || frame.type === 'live') {
        options.onState?.(frame.type);
        return;
      }
      if (typeof frame.id !== 'string') return;
      if (typeof frame.cursor === 'string') cursor = frame.cursor;
      if (seen.has(frame.id)) return;
      remember(frame.id);
      const { cursor: _cursor, ...event } = frame;
      options.onEvent(event as unknown as LogEvent);
    };
    ws.onerror = () => {};
    ws.onclose = ({ code, reason }) => {
      clearInterval(pinger);
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      if (FINAL_CLOSE.has(code)) end(code, reason);
      else schedule();
    };
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
