import type Database from 'better-sqlite3';
import type { CommittedEvent, StreamLog } from '../feed/port.js';
import type { LogFilter } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';
import { registerFold, whereClause } from './log-store.js';
import { COLUMNS, type Row, rowToEvent } from './logs-table.js';

/**
 * The commit log of a SQLite file: `seq` is an AUTOINCREMENT key and SQLite has one writer, so
 * seq order is commit order and a row with a lower seq is always visible before one with a higher.
 */
export class SqliteStreamLog implements StreamLog {
  private opened: { db: Database.Database; maxSeq: Database.Statement; byId: Database.Statement } | null = null;

  /** The file of a SqliteLogStore (opened first: it makes the table). Its own connection, opened on first use. */
  constructor(private readonly path: string) {}

  private get connection() {
    if (this.opened === null) {
      // A tenant's replay reads its own rows by seq through the log store's (tenant_id, seq) index.
      const db = openSqlite(this.path);
      // A replay with `search` or `user_agent` calls fold(), as the store's own queries do.
      registerFold(db);
      this.opened = {
        db,
        maxSeq: db.prepare('SELECT coalesce(max(seq), 0) AS last FROM logs'),
        byId: db.prepare('SELECT 1 FROM logs WHERE tenant_id = ? AND id = ?'),
      };
    }
    return this.opened;
  }

  async after(tenant: TenantId, position: number, filter: LogFilter, limit: number): Promise<CommittedEvent[]> {
    const where = whereClause(tenant, filter);
    const rows = this.connection.db
      .prepare(`SELECT seq, ${COLUMNS} FROM logs WHERE ${where.sql} AND seq > ? ORDER BY seq LIMIT ?`)
      .all(...where.params, position, limit) as (Row & { seq: number })[];
    return rows.map((row) => ({ event: rowToEvent(row), position: row.seq }));
  }

  async head(): Promise<number> {
    return (this.connection.maxSeq.get() as { last: number }).last;
  }

  async holds(tenant: TenantId, id: string): Promise<boolean> {
    return this.connection.byId.get(tenant, id) !== undefined;
  }

  async close(): Promise<void> {
    if (this.opened?.db.open) this.opened.db.close();
    this.opened = null;
  }
}
