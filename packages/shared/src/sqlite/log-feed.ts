import type Database from 'better-sqlite3';
import type { FeedListener, LocalLogFeed } from '../feed/port.js';
import { InProcessLogFeed } from '../in-process/log-feed.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';
import { SqliteLogStore } from './log-store.js';
import { COLUMNS, type Row, rowToEvent } from './logs-table.js';

export interface SqliteLogFeedOptions {
  /** How often the file is read for rows other processes committed while someone listens. */
  pollMs?: number;
  /** Most rows read per poll; the next poll continues where this one stopped. */
  batchSize?: number;
  onError?: (error: unknown) => void;
}

/**
 * The feed of a SQLite file, for one process or several sharing it: it reads the rows committed
 * since the last read, in `seq` order, and hands each with its seq to its tenant's listeners. `seq`
 * is an AUTOINCREMENT key and SQLite has a single writer, so a row with a lower seq is always
 * committed before one with a higher seq: reading `seq > last` misses nothing. The process that
 * stores an event says so (committed()), so its own events are read at once; rows other processes
 * commit are read within `pollMs`. Every process therefore streams the same order.
 */
export class SqliteLogFeed implements LocalLogFeed {
  /** Hands each event to its tenant's listeners, as the in-process feed does. */
  private readonly fanOut = new InProcessLogFeed();
  private readonly db: Database.Database;
  private readonly newer: Database.Statement;
  private readonly maxSeq: Database.Statement;
  private readonly snapshot: Database.Transaction<(tenants: string[]) => { rows: (Row & { seq: number })[]; upTo: number }>;
  private lastSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown) => void;

  constructor(path: string, options: SqliteLogFeedOptions = {}) {
    // Opening the store first makes sure the logs table exists whichever process starts first.
    void SqliteLogStore.open(path).close();
    this.db = openSqlite(path);
    this.pollMs = options.pollMs ?? 100;
    this.batchSize = options.batchSize ?? 1000;
    this.onError = options.onError ?? (() => {});
    this.maxSeq = this.db.prepare('SELECT coalesce(max(seq), 0) AS last FROM logs');
    this.newer = this.db.prepare(
      `SELECT seq, ${COLUMNS} FROM logs WHERE seq > ? AND seq <= ? AND tenant_id IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`,
    );
    // One read transaction: the rows and the point they were read up to come from the same snapshot,
    // so rows of unwatched tenants are skipped without ever skipping a watched one.
    this.snapshot = this.db.transaction((tenants: string[]) => {
      const upTo = (this.maxSeq.get() as { last: number }).last;
      const rows = this.newer.all(this.lastSeq, upTo, JSON.stringify(tenants), this.batchSize) as (Row & { seq: number })[];
      return { rows, upTo: rows.length === this.batchSize ? (rows.at(-1)?.seq ?? upTo) : upTo };
    });
  }

  subscribe(tenant: TenantId, listener: FeedListener): () => void {
    return this.fanOut.subscribe(tenant, listener);
  }

  async start(): Promise<void> {
    if (this.timer) return;
    // Live only: a subscriber sees what is stored from now on; what came before is the commit log's.
    this.lastSeq = (this.maxSeq.get() as { last: number }).last;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  committed(_events: readonly LogEvent[]): void {
    if (this.timer) this.poll();
  }

  /** Reads what was committed since the last read and fans it out; with nobody listening it only moves on. */
  private poll(): void {
    try {
      for (;;) {
        const tenants = this.fanOut.tenants();
        if (tenants.length === 0) {
          this.lastSeq = (this.maxSeq.get() as { last: number }).last;
          return;
        }
        const { rows, upTo } = this.snapshot.deferred(tenants);
        this.lastSeq = upTo;
        this.fanOut.publish(rows.map((row) => ({ event: rowToEvent(row), position: row.seq })));
        if (rows.length < this.batchSize) return;
      }
    } catch (error) {
      this.onError(error);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.fanOut.close();
    if (this.db.open) this.db.close();
  }
}
