import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Unavailable } from '../errors/catalogue.js';
import { startModuleThread } from '../lifecycle/module-thread.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { AppendResult, LogStore } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { AppendAnswer, AppendRequest, ThreadError } from './append-thread.js';
import type { SqliteLogStore } from './log-store.js';

export interface ThreadedSqliteLogStoreOptions {
  /** Told when the writer thread stops unasked (its appends in flight failed); the next request starts another. */
  onError?: (error: Error) => void;
}

type Answer<T extends AppendAnswer['type']> = Extract<AppendAnswer, { type: T }>;
type Question = AppendRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Waiting {
  resolve: (answer: Answer<'stored'> | Answer<'done'>) => void;
  reject: (error: Error) => void;
}

/** The thread's error as the main thread's: a SqliteError stays one (same code), a catalogue error keeps its status. */
function rebuilt(error: ThreadError): Error {
  const copy = error.code?.startsWith('SQLITE_') ? new Database.SqliteError(error.message, error.code) : new Error(error.message);
  copy.name = error.name;
  if (error.stack !== undefined) copy.stack = error.stack;
  if (error.statusCode !== undefined) Object.assign(copy, { statusCode: error.statusCode, code: error.code });
  return copy;
}

/**
 * The process's one writer thread (append-thread.ts), shared by every ThreadedSqliteLogStore in
 * it, each file with its own connection there: one thread start per process (from source, under
 * tsx, a start costs about a second). Started at the first request; a thread that stops unasked
 * fails the requests it had with 503 Unavailable and the next request starts another. It is
 * unreferenced while idle, so it never keeps a process alive by itself.
 */
export class WriterThread {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private readonly listeners = new Set<(error: Error) => void>();
  /** Told of each thread started (tests stop one to see a crash handled). */
  onThread: ((worker: Worker) => void) | null = null;

  static readonly shared = new WriterThread();

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Hears of every unasked stop until the returned function is called. */
  listen(onError: (error: Error) => void): () => void {
    this.listeners.add(onError);
    return () => this.listeners.delete(onError);
  }

  request(question: Question & { type: 'append' }): Promise<Answer<'stored'>>;
  request(question: Question): Promise<Answer<'done'>>;
  request(question: Question): Promise<Answer<'stored'> | Answer<'done'>> {
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Referenced while an answer is due, so a process with nothing else to do waits for it.
      worker.ref();
      worker.postMessage({ ...question, id } as AppendRequest);
    });
  }

  private spawn(): Worker {
    const worker = startModuleThread(import.meta.url, 'append-thread');
    worker.unref();
    worker.on('message', (answer: AppendAnswer) => {
      const waiting = this.waiting.get(answer.id);
      if (waiting === undefined) return;
      this.waiting.delete(answer.id);
      if (this.waiting.size === 0) worker.unref();
      if (answer.type === 'failed') waiting.reject(rebuilt(answer.error));
      else waiting.resolve(answer);
    });
    const stopped = (cause: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const listener of this.listeners) listener(cause);
      const error = new Unavailable('the SQLite writer thread stopped; retry the request');
      error.cause = cause;
      for (const waiting of this.waiting.values()) waiting.reject(error);
      this.waiting.clear();
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`the SQLite writer thread exited (code ${code})`)));
    this.worker = worker;
    this.onThread?.(worker);
    return worker;
  }
}

/**
 * The SQLite log store with its appends made on a thread of its own (#15, docs/configuration.md
 * SQLITE_APPEND_THREAD): the thread has its own connection and runs SqliteLogStore.append, so the
 * INSERTs, the rollups and the commit's fsync (synchronous=FULL; 13-16 ms a 100-event commit was
 * measured on the event loop) no longer hold up the requests being parsed and answered. Reads stay
 * on this thread's connection (WAL: they never wait for the writer) and see a batch as soon as it
 * is committed.
 *
 * An append resolves only after the thread's commit, so an acknowledged event is on disk exactly as
 * before. An error in the thread rejects the append with the same error the store would throw here
 * (a SqliteError keeps its code). A thread that stops (a crash, an out-of-memory) fails the appends
 * it had with 503 Unavailable, which the client retries, and the next append or readiness probe
 * starts a new one; a thread that cannot open the file keeps ping() failing, so /readyz turns 503.
 * The thread is started (and the file opened there) when the store is made, not at the first append.
 */
export class ThreadedSqliteLogStore implements LogStore {
  private closed = false;
  private readonly unlisten: () => void;

  constructor(
    private readonly reads: SqliteLogStore,
    private readonly path: string,
    options: ThreadedSqliteLogStoreOptions = {},
    private readonly writer: WriterThread = WriterThread.shared,
  ) {
    this.unlisten = writer.listen((error) => options.onError?.(error));
    // Started now, in the background, so the first POST does not wait for the thread to load (about
    // a second from source); a failure to open is what ping() and the first append then report.
    writer.request({ type: 'open', path }).catch(() => undefined);
  }

  async append(tenant: TenantId, events: readonly LogEvent[]): Promise<AppendResult> {
    if (this.closed) throw new Unavailable('the log store is closed');
    if (events.length === 0) return { inserted: [], duplicates: 0 };
    const answer = await this.writer.request({ type: 'append', path: this.path, tenant, events: events as LogEvent[] });
    const inserted = answer.inserted.map((index, n) => {
      const event = events[index] as LogEvent;
      return event.hash === undefined ? { ...event, hash: answer.hashes[n] as string } : event;
    });
    return { inserted, duplicates: events.length - inserted.length };
  }

  get: LogStore['get'] = (tenant, id) => this.reads.get(tenant, id);
  query: LogStore['query'] = (tenant, filter, page) => this.reads.query(tenant, filter, page);
  queryText: NonNullable<LogStore['queryText']> = (tenant, filter, page) => this.reads.queryText(tenant, filter, page);
  export: LogStore['export'] = (tenant, filter, sort) => this.reads.export(tenant, filter, sort);
  exportText: NonNullable<LogStore['exportText']> = (tenant, filter, sort) => this.reads.exportText(tenant, filter, sort);
  stats: LogStore['stats'] = (tenant, filter, request) => this.reads.stats(tenant, filter, request);
  // Retention's deletes stay on this connection: a background job, in 5 000-row transactions,
  // that waits (busy_timeout) at most for the thread's one commit in progress (docs/storage.md).
  deleteOlderThan: LogStore['deleteOlderThan'] = (tenant, before, cause, scope) => this.reads.deleteOlderThan(tenant, before, cause, scope);

  /** Throws while the writer thread cannot open the file (or is not answering), besides the reads' own check; starts a thread that stopped. */
  async ping(): Promise<void> {
    await this.reads.ping();
    if (this.closed) throw new Unavailable('the log store is closed');
    await this.writer.request({ type: 'open', path: this.path });
  }

  /** Waits for the appends sent before it (the thread takes requests in order), then closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unlisten();
    await this.writer.request({ type: 'release', path: this.path }).catch(() => undefined);
    await this.reads.close();
  }
}
