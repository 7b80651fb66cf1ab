import { BULK_BYTES, BULK_EVENTS, chunkEvents } from './chunks.js';
import { LogserverError, type ValidationProblem } from './errors.js';
import { linesOf } from './lines.js';
import { type LiveStream, type LiveStreamOptions, openLiveStream, type WebSocketClass } from './live-stream.js';
import { type ConsistencyCheck, checkConsistency, checkProof, type ProofCheck } from './proof.js';
import { DEFAULT_RETRY, type RetryOptions, withRetry } from './retry.js';
import type {
  Checkpoint,
  Consistency,
  ExportFormat,
  Jwks,
  LogEvent,
  LogFilter,
  NewLogEvent,
  Proof,
  Stats,
  StatsOptions,
  VerifyReport,
} from './types.js';

export { BULK_BYTES, BULK_EVENTS, chunkEvents } from './chunks.js';
export { LogserverError, type ValidationProblem } from './errors.js';
export type { LiveStream, LiveStreamOptions, StreamState, WebSocketClass } from './live-stream.js';
export { type ConsistencyCheck, checkConsistency, checkProof, eventHashOf, type ProofCheck } from './proof.js';
export type { RetryOptions } from './retry.js';
export { checkCheckpoint, verifyConsistency, verifyInclusion } from './tree.js';
export type * from './types.js';

/** Refusals of the stream's upgrade that the same request cannot get past by retrying. */
const FINAL_REFUSALS = new Set([400, 401, 403, 404, 422]);

export interface LogserverClientOptions {
  /** Where the API is, e.g. `http://localhost:8080` (the all-in-one) or the gateway's address. */
  baseUrl: string;
  /** A bearer token, or a function that returns a fresh one for each request (for short-lived IdP tokens). */
  token: string | (() => string | Promise<string>);
  /** Retries with exponential backoff; `{ retries: 0 }` turns them off. */
  retry?: Partial<RetryOptions> | undefined;
  /** Per attempt; a request that takes longer is aborted and retried. */
  timeoutMs?: number | undefined;
  /** Defaults to the global fetch (Node 18+, browsers). */
  fetch?: typeof fetch | undefined;
  /** Defaults to the global WebSocket (browsers, Node 22+); pass `ws`'s on Node 20. */
  WebSocket?: WebSocketClass | undefined;
  /** Bulk limits of the server, for chunking (README "Limits"). */
  bulkEvents?: number | undefined;
  bulkBytes?: number | undefined;
}

export interface WriteOptions {
  /** The Idempotency-Key; one is made per call when absent, and every retry of the call reuses it. */
  idempotencyKey?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ListOptions {
  /** Events per request, at most 100. */
  pageSize?: number | undefined;
  sort?: 'asc' | 'desc' | undefined;
  /** Start after this cursor (meta.next_cursor of an earlier page). */
  cursor?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface Page {
  items: LogEvent[];
  nextCursor: string | null;
  total: number | null;
}

export interface ExportOptions {
  format?: ExportFormat | undefined;
  sort?: 'asc' | 'desc' | undefined;
  signal?: AbortSignal | undefined;
}

const newKey = (): string => globalThis.crypto.randomUUID();

function queryOf(filter: Record<string, unknown> = {}): URLSearchParams {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined || value === null) continue;
    query.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  return query;
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * A typed client for the logserver API. Every call is retried with backoff when retrying can
 * help (network errors, timeouts, 429, 5xx, a keyed write still in flight); writes carry an
 * Idempotency-Key by default, so a retry never stores an event twice.
 *
 * ```ts
 * const client = new LogserverClient({ baseUrl: 'http://localhost:8080', token });
 * await client.create({ action: 'invoice.paid', resource_type: 'invoice', resource_id: 'inv-1' });
 * for await (const event of client.list({ severity: ['ERROR', 'CRITICAL'] })) console.log(event.id);
 * ```
 */
export class LogserverClient {
  private readonly baseUrl: string;
  private readonly retry: RetryOptions;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: LogserverClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Stores one event; resolves with the stored event (its id, tenant, user and received_at). */
  async create(event: NewLogEvent, options: WriteOptions = {}): Promise<LogEvent> {
    const key = options.idempotencyKey ?? newKey();
    return this.send<LogEvent>('POST', '/api/v1/logs', { body: event, idempotencyKey: key, signal: options.signal });
  }

  /**
   * Stores any number of events: cut into bulk requests at the server's limits (1000 events,
   * 10 MiB), sent one after another, each with its own Idempotency-Key (`<key>:<n>` when a key is
   * given). Resolves with every stored event, in order. A chunk that fails for good rejects,
   * and the chunks before it stay stored: call again with the same key to finish the rest.
   */
  async bulk(events: readonly NewLogEvent[], options: WriteOptions = {}): Promise<LogEvent[]> {
    const base = options.idempotencyKey ?? newKey();
    const chunks = chunkEvents(events, this.options.bulkEvents ?? BULK_EVENTS, this.options.bulkBytes ?? BULK_BYTES);
    const stored: LogEvent[] = [];
    for (const [index, chunk] of chunks.entries()) {
      const key = chunks.length === 1 && options.idempotencyKey !== undefined ? base : `${base}:${index}`;
      stored.push(
        ...(await this.send<LogEvent[]>('POST', '/api/v1/logs/bulk', { body: chunk, idempotencyKey: key, signal: options.signal })),
      );
    }
    return stored;
  }

  /** One event of the caller's tenant; rejects with a 404 LogserverError when there is none. */
  get(id: string, options: { signal?: AbortSignal } = {}): Promise<LogEvent> {
    return this.send<LogEvent>('GET', `/api/v1/logs/${encodeURIComponent(id)}`, { signal: options.signal });
  }

  /** One page by cursor; `list` walks all of them. */
  async page(filter: LogFilter = {}, options: ListOptions = {}): Promise<Page> {
    const query = queryOf({ ...filter, size: options.pageSize ?? 100, sort: options.sort, cursor: options.cursor });
    const { data, meta } = await this.envelope<LogEvent[]>('GET', `/api/v1/logs?${query}`, { signal: options.signal });
    return {
      items: data,
      nextCursor: (meta?.next_cursor as string | null | undefined) ?? null,
      total: (meta?.total as number | null | undefined) ?? null,
    };
  }

  /** Every matching event, newest first unless sort is asc, fetched page by page as the loop asks. */
  async *list(filter: LogFilter = {}, options: ListOptions = {}): AsyncGenerator<LogEvent> {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.page(filter, { ...options, cursor });
      yield* page.items;
      if (page.nextCursor === null || page.items.length === 0) return;
      cursor = page.nextCursor;
    }
  }

  /** How many events match, without reading them. */
  async count(filter: LogFilter = {}): Promise<number> {
    const query = queryOf({ ...filter, page: 1, size: 1 });
    const { meta } = await this.envelope<LogEvent[]>('GET', `/api/v1/logs?${query}`, {});
    return (meta?.total as number | undefined) ?? 0;
  }

  /** Counts by group (severity by default), optionally per hour or day. */
  async stats(options: StatsOptions = {}): Promise<Stats> {
    const { data, meta } = await this.envelope<Record<string, unknown>>('GET', `/api/v1/logs/stats?${queryOf(options)}`, {});
    return { data, meta };
  }

  /**
   * The export as the server streams it (ndjson by default, csv or json): the raw bytes, for
   * writing to a file. Not retried once bytes have arrived: a cut export is an error, never short.
   */
  async exportStream(filter: LogFilter = {}, options: ExportOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const query = queryOf({ ...filter, format: options.format, sort: options.sort });
    const response = await withRetry(
      () => this.attempt('GET', `/api/v1/logs/export?${query}`, { signal: options.signal }),
      this.retry,
      options.signal,
    );
    if (!response.body) throw new LogserverError(0, 'the export answered without a body');
    return response.body;
  }

  /** The export as events, parsed from NDJSON one line at a time; memory stays flat at any size. */
  async *export(filter: LogFilter = {}, options: Omit<ExportOptions, 'format'> = {}): AsyncGenerator<LogEvent> {
    const body = await this.exportStream(filter, { ...options, format: 'ndjson' });
    for await (const line of linesOf(body)) yield JSON.parse(line) as LogEvent;
  }

  /** Recomputes the tenant's log against its signed digests, on the server. */
  verify(options: { from?: string; to?: string } = {}): Promise<VerifyReport> {
    return this.send<VerifyReport>('GET', `/api/v1/logs/verify?${queryOf(options)}`, {});
  }

  /** The server's current Ed25519 public key (PEM); `keys()` has every key over time with its window. */
  async publicKey(): Promise<string> {
    return (await this.send<{ public_key_pem: string }>('GET', '/api/v1/integrity/public-key', {})).public_key_pem;
  }

  /** The keys that sign checkpoints, with their validity windows (a JWKS); pin a copy for real assurance. */
  keys(): Promise<Jwks> {
    return this.request<Jwks>('GET', '/api/v1/integrity/keys');
  }

  /** The tenant's newest signed checkpoint (404 before the first seal). Keep one to check consistency later. */
  latestCheckpoint(): Promise<Checkpoint> {
    return this.send<Checkpoint>('GET', '/api/v1/integrity/checkpoints/latest', {});
  }

  /** The RFC 9162 consistency proof from tree size `from` to the checkpoint of size `to` (default: the newest). */
  consistency(from: number, to?: number): Promise<Consistency> {
    return this.send<Consistency>('GET', `/api/v1/integrity/consistency?${queryOf({ from, to })}`, {});
  }

  /** An event's inclusion proof, against the checkpoint of that size (default: the newest); a 409 LogserverError while it is not sealed yet. */
  proof(id: string, options: { checkpoint?: number } = {}): Promise<Proof> {
    return this.send<Proof>('GET', `/api/v1/logs/${encodeURIComponent(id)}/proof?${queryOf(options)}`, {});
  }

  /**
   * Fetches the proof of an event and checks it here, not on the server: the event's hash, its leaf,
   * the inclusion proof to the checkpoint's root, the checkpoint's key, window and signature. Pass
   * the keys you pinned (`keys`, a JWKS, or `publicKeyPem`); without them, the server's own (which
   * proves consistency, not honesty).
   */
  async checkEvent(
    id: string,
    options: { publicKeyPem?: string; keys?: Jwks; checkpoint?: number } = {},
  ): Promise<ProofCheck & { proof: Proof }> {
    const proofOptions = options.checkpoint === undefined ? {} : { checkpoint: options.checkpoint };
    const [proof, keys] = await Promise.all([this.proof(id, proofOptions), options.keys ?? options.publicKeyPem ?? this.keys()]);
    return { ...checkProof(proof, keys), proof };
  }

  /**
   * Checks here that the log today extends a checkpoint you kept: fetches the consistency proof from
   * `trusted` to the newest checkpoint (or `to`) and checks it and that checkpoint's signature.
   */
  async checkConsistency(
    trusted: Pick<Checkpoint, 'tree_size' | 'root_hash'>,
    options: { keys?: Jwks | string; to?: number } = {},
  ): Promise<ConsistencyCheck & { consistency: Consistency }> {
    const [consistency, keys] = await Promise.all([this.consistency(trusted.tree_size, options.to), options.keys ?? this.keys()]);
    return { ...checkConsistency(trusted, consistency, keys), consistency };
  }

  /**
   * The live stream: each stored event that matches, as it is stored, reconnecting by itself
   * (with `after=<cursor>` where the server gives cursors, so a reconnect misses nothing).
   */
  stream(options: LiveStreamOptions): LiveStream {
    const WebSocketImpl = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
    if (!WebSocketImpl) throw new Error('no WebSocket here: pass { WebSocket } from the ws package (Node 20)');
    return openLiveStream(
      async (query) => {
        // Browsers cannot set headers on a WebSocket: the token goes in ?token=, as the API allows for the stream only.
        query.set('token', await this.token());
        return `${this.baseUrl.replace(/^http/, 'ws')}/api/v1/logs/stream?${query}`;
      },
      WebSocketImpl,
      options,
      (query) => this.refusalOf(query),
    );
  }

  /**
   * Why the stream's upgrade failed, asked with a plain GET of the same query: the server checks
   * token, role, filters and cursor before it would answer 426 (Upgrade Required), so a 426 means
   * it would have taken the WebSocket and the failure was elsewhere (retry).
   */
  private async refusalOf(query: URLSearchParams): Promise<{ code: number; reason: string } | null> {
    const asked = new URLSearchParams(query);
    asked.delete('token');
    try {
      await this.attempt('GET', `/api/v1/logs/stream?${asked}`, {});
      return null;
    } catch (error) {
      if (!(error instanceof LogserverError) || !FINAL_REFUSALS.has(error.status)) return null;
      const details = error.problems.map((problem) => `${problem.loc.join('.')}: ${problem.msg}`);
      return { code: error.status, reason: [error.message, ...details].join('; ') };
    }
  }

  private async token(): Promise<string> {
    return typeof this.options.token === 'function' ? this.options.token() : this.options.token;
  }

  private async send<T>(method: string, path: string, request: Request): Promise<T> {
    return (await this.envelope<T>(method, path, request)).data;
  }

  /** A JSON answer outside the envelope (the JWKS). */
  private async request<T>(method: string, path: string): Promise<T> {
    return withRetry(async () => (await (await this.attempt(method, path, {})).json()) as T, this.retry, undefined);
  }

  private async envelope<T>(method: string, path: string, request: Request): Promise<{ data: T; meta?: Record<string, unknown> }> {
    return withRetry(
      async () => {
        const response = await this.attempt(method, path, request);
        return (await response.json()) as { data: T; meta?: Record<string, unknown> };
      },
      this.retry,
      request.signal,
    );
  }

  /**
   * One HTTP attempt; a non-2xx answer becomes a LogserverError with the envelope's message.
   * The timeout covers the whole answer, except for a streamed one (an export), where it covers
   * only the wait for the headers: a large export may take minutes to arrive.
   */
  private async attempt(method: string, path: string, request: Request): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.token()}`, accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey;
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new Error(`no answer within ${this.options.timeoutMs ?? 30_000} ms`)),
      this.options.timeoutMs ?? 30_000,
    );
    const signal = request.signal ? AbortSignal.any([request.signal, timeout.signal]) : timeout.signal;
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal,
      });
    } catch (error) {
      clearTimeout(timer);
      if (request.signal?.aborted) throw error;
      throw new LogserverError(0, `${method} ${path} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (response.ok && request.streaming) {
      clearTimeout(timer);
      return response;
    }
    if (response.ok) {
      // The body is read by the caller within the same timeout: buffered here, so the timer can end.
      const buffered = new Response(await response.arrayBuffer().finally(() => clearTimeout(timer)), response);
      return buffered;
    }
    const text = await response.text().finally(() => clearTimeout(timer));
    let message = `${response.status} ${response.statusText}`;
    let problems: ValidationProblem[] = [];
    try {
      const body = JSON.parse(text) as { msg?: string; data?: unknown };
      if (typeof body.msg === 'string') message = body.msg;
      if (Array.isArray(body.data)) problems = body.data as ValidationProblem[];
    } catch {
      // Not the envelope (a proxy's page): the status line says enough.
    }
    throw new LogserverError(response.status, message, problems, retryAfterMs(response.headers.get('retry-after')));
  }
}

interface Request {
  /** The body is streamed to the caller: the timeout ends with the headers. */
  streaming?: boolean | undefined;
  body?: unknown;
  idempotencyKey?: string | undefined;
  signal?: AbortSignal | undefined;
}
