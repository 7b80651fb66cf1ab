import type Database from 'better-sqlite3';
import type { CleanupEntry, CommitLog, PositionedEvent } from '../analytics/port.js';
import type { CommitPosition } from '../integrity/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';
import { INTEGRITY_SCHEMA } from './integrity-schema.js';
import { COLUMNS, type Row, rowToEvent as toEvent } from './logs-table.js';

/** A cleanup still at deleted_count 0 this long after it began was cut short by a crash: what it deleted is final. */
const ABANDONED_CLEANUP_MS = 3_600_000;

/**
 * The SQLite file's commit order for the analytics sink: the logs table's AUTOINCREMENT seq (one
 * writer at a time, so seq grows in commit order) and the cleanup records the integrity tables keep.
 * Its own connection: in WAL mode its reads never wait for, nor hold up, the writer.
 */
export class SqliteCommitLog implements CommitLog {
  private readonly after: Database.Statement;
  private readonly headSeq: Database.Statement;
  private readonly cleanups: Database.Statement;
  private readonly deleted: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date,
  ) {
    db.exec(INTEGRITY_SCHEMA);
    // The sink reads one cleanup's ids in order; without this each page would scan every record.
    db.exec('CREATE INDEX IF NOT EXISTS integrity_deleted_cleanup ON integrity_deleted (cleanup_id, event_id)');
    this.after = db.prepare(`SELECT seq, ${COLUMNS} FROM logs WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.headSeq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'logs'");
    this.cleanups = db.prepare(
      'SELECT cleanup_id, tenant_id, deleted_at, deleted_count FROM integrity_cleanups WHERE cleanup_id > ? ORDER BY cleanup_id LIMIT ?',
    );
    this.deleted = db.prepare(
      'SELECT event_id FROM integrity_deleted WHERE cleanup_id = ? AND event_id > ? ORDER BY cleanup_id, event_id LIMIT ?',
    );
  }

  /** Opens its own connection; open the SqliteLogStore first, it owns the logs table. */
  static open(path: string, now: () => Date = () => new Date()): SqliteCommitLog {
    return new SqliteCommitLog(openSqlite(path), now);
  }

  async committedAfter(after: CommitPosition | null, limit: number): Promise<PositionedEvent[]> {
    const rows = this.after.all(after === null ? 0 : Number(after), limit) as (Row & { seq: number })[];
    return rows.map((row) => ({ position: String(row.seq), event: toEvent(row) }));
  }

  async head(): Promise<CommitPosition | null> {
    const row = this.headSeq.get() as { seq: number } | undefined;
    return row ? String(row.seq) : null;
  }

  async cleanupsAfter(afterId: number, limit: number): Promise<CleanupEntry[]> {
    const rows = this.cleanups.all(afterId, limit) as {
      cleanup_id: number;
      tenant_id: string;
      deleted_at: string;
      deleted_count: number;
    }[];
    return rows.map((row) => ({
      cleanupId: row.cleanup_id,
      tenant: row.tenant_id as TenantId,
      deletedAt: row.deleted_at,
      // deleted_count is written when the cleanup's last slice has committed.
      finished: row.deleted_count > 0 || this.now().getTime() - Date.parse(row.deleted_at) > ABANDONED_CLEANUP_MS,
    }));
  }

  async deletedIds(cleanupId: number, afterId: string, limit: number): Promise<string[]> {
    return (this.deleted.all(cleanupId, afterId, limit) as { event_id: string }[]).map((row) => row.event_id);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
