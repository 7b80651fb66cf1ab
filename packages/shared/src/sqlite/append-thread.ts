import { parentPort } from 'node:worker_threads';
import type { LogEvent } from '../schemas/log-event.js';
import { tenantOf } from '../store/tenant-id.js';
import { SqliteLogStore } from './log-store.js';

export type AppendRequest =
  | { type: 'append'; id: number; path: string; tenant: string; events: LogEvent[] }
  /** Opens the file's connection if it is not open yet, and answers: the readiness check. */
  | { type: 'open'; id: number; path: string }
  /** Closes the file's connection (its store was closed), answered once closed. */
  | { type: 'release'; id: number; path: string };

/** An error of the thread as it crosses to the main thread: enough to rebuild the same error there. */
export interface ThreadError {
  name: string;
  message: string;
  code?: string | undefined;
  statusCode?: number | undefined;
  stack?: string | undefined;
}

export type AppendAnswer =
  /** The answer to open and release. */
  | { type: 'done'; id: number }
  /**
   * Sent once the transaction is committed (synchronous=FULL: on disk): the indexes of the events
   * inserted (the others were duplicates) and their hashes as stored.
   */
  | { type: 'stored'; id: number; inserted: number[]; hashes: string[] }
  | { type: 'failed'; id: number; error: ThreadError };

function described(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  return {
    name: error.name,
    message: error.message,
    code: typeof code === 'string' ? code : undefined,
    statusCode: typeof statusCode === 'number' ? statusCode : undefined,
    stack: error.stack,
  };
}

/**
 * The writer thread of ThreadedSqliteLogStore, one per process: for each SQLite file it appends to,
 * its own connection (WAL, synchronous=FULL, as every connection here) and the store's own append,
 * so the INSERTs, the rollup updates, the hash of an event that arrives without one and the commit's
 * fsync all run here. Requests are taken one at a time, in the order they were sent.
 */
function main(port: NonNullable<typeof parentPort>): void {
  const stores = new Map<string, SqliteLogStore>();
  const storeOf = (path: string) => {
    let store = stores.get(path);
    if (store === undefined) {
      store = SqliteLogStore.open(path);
      stores.set(path, store);
    }
    return store;
  };
  port.on('message', async (request: AppendRequest) => {
    try {
      if (request.type === 'open') storeOf(request.path);
      if (request.type === 'release') {
        await stores.get(request.path)?.close();
        stores.delete(request.path);
      }
      if (request.type !== 'append') return port.postMessage({ type: 'done', id: request.id } satisfies AppendAnswer);
      const { inserted } = await storeOf(request.path).append(tenantOf({ tenant: request.tenant }), request.events);
      // `inserted` is in the batch's order and a subsequence of it; an id's later copies in the same batch are duplicates.
      const indexes: number[] = [];
      for (const [index, event] of request.events.entries()) {
        if (inserted[indexes.length]?.id === event.id) indexes.push(index);
      }
      const hashes = inserted.map((event) => event.hash as string);
      port.postMessage({ type: 'stored', id: request.id, inserted: indexes, hashes } satisfies AppendAnswer);
    } catch (error) {
      port.postMessage({ type: 'failed', id: request.id, error: described(error) } satisfies AppendAnswer);
    }
  });
}

if (parentPort !== null) main(parentPort);
