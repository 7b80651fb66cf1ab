import type Database from 'better-sqlite3';
import type { FeedListener, LogFeed } from '../feed/port.js';
import { InProcessLogFeed } from '../in-process/log-feed.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';
import { SqliteLogStore } from './log-store.js';
import { COLUMNS, type Row, rowToEvent } from './logs-table.js';

export interface SqliteLogFeedOptions {
  /** How often the file is read for new rows while someone listens. */
  pollMs?: number;
  /** Most rows read per poll; the next poll continues where this one stopped. */
  batchSize?: number;
  onError?: (error: unknown) => void;
}

/**
 * The feed for several local processes sharing one SQLite file: the worker stores in its process,
 * and this reads the rows committed since the last poll, in `seq` order, and hands each to its
 * tenant's listeners. `seq` is an AUTOINCREMENT key and SQLite has a single writer, so a row with a
 * lower seq is always committed before one with a higher seq: reading `seq > last` misses nothing.
 */
export class SqliteLogFeed implements LogFeed {
  /** Hands each event to its tenant's listeners, as the in-process feed does. */
  private readonly fanOut = new InProcessLogFeed();
  private subscribers = 0;
  private readonly db: Database.Database;
  private readonly newer: Database.Statement;
  private lastSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown) => void;

  constructor(path: string, options: SqliteLogFeedOptions = {}) {
    // Opening the store first makes sure the logs table exists whichever process starts first.
    void SqliteLogStore.open(path).close();
    this.db = openSqlite(path);
    this.newer = this.db.prepare(`SELECT seq, ${COLUMNS} FROM logs WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.pollMs = options.pollMs ?? 100;
    this.batchSize = options.batchSize ?? 1000;
    this.onError = options.onError ?? (() => {});
  }

  subscribe(tenant: TenantId, listener: FeedListener): () => void {
    this.subscribers++;
    const unsubscribe = this.fanOut.subscribe(tenant, listener);
    let subscribed = true;
    return () => {
      if (subscribed) this.subscribers--;
      subscribed = false;
      unsubscribe();
    };
  }

  async start(): Promise<void> {
    if (this.timer) return;
    // Live only: a subscriber sees what is stored from now on, as with the in-process feed.
    this.lastSeq = this.maxSeq();
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** Reads what was committed since the last poll and fans it out; with nobody listening it only moves on. */
  private poll(): void {
    try {
      if (this.subscribers === 0) {
        this.lastSeq = this.maxSeq();
        return;
      }
      for (;;) {
        const rows = this.newer.all(this.lastSeq, this.batchSize) as (Row & { seq: number })[];
        const last = rows.at(-1);
        if (last) this.lastSeq = last.seq;
        this.fanOut.publish(rows.map(rowToEvent));
        if (rows.length < this.batchSize) return;
      }
    } catch (error) {
      this.onError(error);
    }
  }

  private maxSeq(): number {
    return (this.db.prepare('SELECT coalesce(max(seq), 0) AS last FROM logs').get() as { last: number }).last;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.fanOut.close();
    if (this.db.open) this.db.close();
  }
}
