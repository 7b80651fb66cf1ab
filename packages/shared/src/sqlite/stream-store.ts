import type Database from 'better-sqlite3';
import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import type { DestinationKind, DestinationRecord } from '../streams/destination.js';
import {
  type DeadLetter,
  type DeadLetterSummary,
  type DestinationPatch,
  type DestinationProgress,
  initialProgress,
  type StreamStore,
} from '../streams/port.js';
import { openSqlite } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS stream_destinations (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  settings TEXT NOT NULL,
  filter TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  progress TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stream_destinations_tenant ON stream_destinations (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS stream_dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination_id TEXT NOT NULL,
  first_position INTEGER NOT NULL,
  last_position INTEGER NOT NULL,
  events TEXT NOT NULL,
  event_count INTEGER NOT NULL,
  error TEXT NOT NULL,
  failed_at TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  replay INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS stream_dead_letters_destination ON stream_dead_letters (destination_id, id);
CREATE TABLE IF NOT EXISTS stream_leases (
  destination_id TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);`;

interface DestinationRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: string;
  enabled: number;
  settings: string;
  filter: string;
  secret: string;
  created_at: string;
  updated_at: string;
}

const toRecord = (row: DestinationRow): DestinationRecord => ({
  id: row.id,
  tenant: row.tenant_id as TenantId,
  name: row.name,
  kind: row.kind as DestinationKind,
  enabled: row.enabled === 1,
  settings: JSON.parse(row.settings),
  filter: JSON.parse(row.filter),
  secret: row.secret,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

interface LetterRow {
  id: number;
  destination_id: string;
  first_position: number;
  last_position: number;
  events?: string;
  event_count: number;
  error: string;
  failed_at: string;
  attempts: number;
  replay: number;
}

const toSummary = (row: LetterRow): DeadLetterSummary => ({
  id: row.id,
  destinationId: row.destination_id,
  firstPosition: row.first_position,
  lastPosition: row.last_position,
  eventCount: row.event_count,
  error: row.error,
  failedAt: row.failed_at,
  attempts: row.attempts,
  replayRequested: row.replay === 1,
});

/** Dead letters read at once while pruning: each holds at most STREAM_BATCH_MAX_BYTES of events. */
const PRUNE_PAGE = 10;
const DESTINATION_COLUMNS = 'id, tenant_id, name, kind, enabled, settings, filter, secret, created_at, updated_at';
const LETTER_COLUMNS = 'id, destination_id, first_position, last_position, event_count, error, failed_at, attempts, replay';

/** StreamStore on the SQLite file, on its own connection (WAL: its writes are short and never hold the event writer long). */
export class SqliteStreamStore implements StreamStore {
  private constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  static open(path: string): SqliteStreamStore {
    return new SqliteStreamStore(openSqlite(path));
  }

  async create(tenant: TenantId, destination: DestinationRecord, startPosition: number, maxPerTenant: number): Promise<boolean> {
    // Count and insert in one transaction: two creates at once cannot both pass the bound.
    const insert = this.db.transaction(() => {
      const { n } = this.db.prepare('SELECT count(*) AS n FROM stream_destinations WHERE tenant_id = ?').get(tenant) as { n: number };
      if (n >= maxPerTenant) return false;
      this.db
        .prepare(`INSERT INTO stream_destinations (${DESTINATION_COLUMNS}, progress) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(
          destination.id,
          tenant,
          destination.name,
          destination.kind,
          destination.enabled ? 1 : 0,
          JSON.stringify(destination.settings),
          JSON.stringify(destination.filter),
          destination.secret,
          destination.createdAt,
          destination.updatedAt,
          JSON.stringify(initialProgress(startPosition)),
        );
      return true;
    });
    return insert.immediate();
  }

  async list(tenant: TenantId): Promise<DestinationRecord[]> {
    const rows = this.db
      .prepare(`SELECT ${DESTINATION_COLUMNS} FROM stream_destinations WHERE tenant_id = ? ORDER BY created_at, id`)
      .all(tenant) as DestinationRow[];
    return rows.map(toRecord);
  }

  async get(tenant: TenantId, id: string): Promise<DestinationRecord | null> {
    const row = this.db.prepare(`SELECT ${DESTINATION_COLUMNS} FROM stream_destinations WHERE tenant_id = ? AND id = ?`).get(tenant, id) as
      | DestinationRow
      | undefined;
    return row ? toRecord(row) : null;
  }

  async update(tenant: TenantId, id: string, patch: DestinationPatch): Promise<DestinationRecord | null> {
    const current = await this.get(tenant, id);
    if (current === null) return null;
    const next: DestinationRecord = {
      ...current,
      ...(patch.name === undefined ? {} : { name: patch.name }),
      ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
      ...(patch.settings === undefined ? {} : { settings: patch.settings }),
      ...(patch.filter === undefined ? {} : { filter: patch.filter }),
      ...(patch.secret === undefined ? {} : { secret: patch.secret }),
      updatedAt: patch.updatedAt,
    };
    this.db
      .prepare(
        'UPDATE stream_destinations SET name = ?, enabled = ?, settings = ?, filter = ?, secret = ?, updated_at = ? WHERE tenant_id = ? AND id = ?',
      )
      .run(
        next.name,
        next.enabled ? 1 : 0,
        JSON.stringify(next.settings),
        JSON.stringify(next.filter),
        next.secret,
        next.updatedAt,
        tenant,
        id,
      );
    return next;
  }

  async remove(tenant: TenantId, id: string): Promise<boolean> {
    const remove = this.db.transaction(() => {
      const { changes } = this.db.prepare('DELETE FROM stream_destinations WHERE tenant_id = ? AND id = ?').run(tenant, id);
      if (changes === 0) return false;
      this.db.prepare('DELETE FROM stream_dead_letters WHERE destination_id = ?').run(id);
      this.db.prepare('DELETE FROM stream_leases WHERE destination_id = ?').run(id);
      return true;
    });
    return remove.immediate();
  }

  async allDestinations(afterId: string | null, limit: number): Promise<DestinationRecord[]> {
    const rows = this.db
      .prepare(`SELECT ${DESTINATION_COLUMNS} FROM stream_destinations WHERE id > ? ORDER BY id LIMIT ?`)
      .all(afterId ?? '', limit) as DestinationRow[];
    return rows.map(toRecord);
  }

  async replaceSecret(destinationId: string, from: string, to: string): Promise<boolean> {
    const { changes } = this.db
      .prepare('UPDATE stream_destinations SET secret = ? WHERE id = ? AND secret = ?')
      .run(to, destinationId, from);
    return changes === 1;
  }

  async enabledDestinations(limit: number): Promise<DestinationRecord[]> {
    const rows = this.db
      .prepare(`SELECT ${DESTINATION_COLUMNS} FROM stream_destinations WHERE enabled = 1 ORDER BY created_at, id LIMIT ?`)
      .all(limit) as DestinationRow[];
    return rows.map(toRecord);
  }

  async progress(destinationId: string): Promise<DestinationProgress | null> {
    const row = this.db.prepare('SELECT progress FROM stream_destinations WHERE id = ?').get(destinationId) as
      | { progress: string }
      | undefined;
    return row ? (JSON.parse(row.progress) as DestinationProgress) : null;
  }

  async saveProgress(destinationId: string, progress: DestinationProgress): Promise<void> {
    // The position never moves back: a replica that lost its lease mid-batch cannot rewind another's progress.
    this.db
      .prepare("UPDATE stream_destinations SET progress = ? WHERE id = ? AND json_extract(progress, '$.position') <= ?")
      .run(JSON.stringify(progress), destinationId, progress.position);
  }

  async addDeadLetter(destinationId: string, letter: Omit<DeadLetter, 'id' | 'destinationId'>, max: number): Promise<boolean> {
    const add = this.db.transaction(() => {
      if (this.countOf(destinationId) >= max) return false;
      this.db
        .prepare(
          'INSERT INTO stream_dead_letters (destination_id, first_position, last_position, events, event_count, error, failed_at, attempts, replay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          destinationId,
          letter.firstPosition,
          letter.lastPosition,
          JSON.stringify(letter.events),
          letter.events.length,
          letter.error,
          letter.failedAt,
          letter.attempts,
          letter.replayRequested ? 1 : 0,
        );
      return true;
    });
    return add.immediate();
  }

  private countOf(destinationId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM stream_dead_letters WHERE destination_id = ?').get(destinationId) as { n: number })
      .n;
  }

  async deadLetterCount(destinationId: string): Promise<number> {
    return this.countOf(destinationId);
  }

  async deadLetters(tenant: TenantId, destinationId: string, limit: number): Promise<DeadLetterSummary[] | null> {
    if ((await this.get(tenant, destinationId)) === null) return null;
    const rows = this.db
      .prepare(`SELECT ${LETTER_COLUMNS} FROM stream_dead_letters WHERE destination_id = ? ORDER BY id LIMIT ?`)
      .all(destinationId, limit) as LetterRow[];
    return rows.map(toSummary);
  }

  async requestReplay(tenant: TenantId, destinationId: string, ids?: readonly number[]): Promise<number | null> {
    if ((await this.get(tenant, destinationId)) === null) return null;
    if (ids === undefined) {
      return this.db.prepare('UPDATE stream_dead_letters SET replay = 1 WHERE destination_id = ?').run(destinationId).changes;
    }
    const mark = this.db.prepare('UPDATE stream_dead_letters SET replay = 1 WHERE destination_id = ? AND id = ?');
    return this.db.transaction(() => ids.reduce((n, id) => n + mark.run(destinationId, id).changes, 0))();
  }

  async replayable(destinationId: string, limit: number): Promise<DeadLetter[]> {
    const rows = this.db
      .prepare(`SELECT ${LETTER_COLUMNS}, events FROM stream_dead_letters WHERE destination_id = ? AND replay = 1 ORDER BY id LIMIT ?`)
      .all(destinationId, limit) as LetterRow[];
    return rows.map((row) => {
      const { eventCount: _count, ...summary } = toSummary(row);
      return { ...summary, events: JSON.parse(row.events as string) as LogEvent[] };
    });
  }

  async removeDeadLetter(destinationId: string, letterId: number): Promise<void> {
    this.db.prepare('DELETE FROM stream_dead_letters WHERE destination_id = ? AND id = ?').run(destinationId, letterId);
  }

  async replayFailed(destinationId: string, letterId: number, error: string, failedAt: string): Promise<void> {
    this.db
      .prepare(
        'UPDATE stream_dead_letters SET replay = 0, error = ?, failed_at = ?, attempts = attempts + 1 WHERE destination_id = ? AND id = ?',
      )
      .run(error, failedAt, destinationId, letterId);
  }

  async pruneDeadLetters(tenant: TenantId, expired: (event: LogEvent) => boolean): Promise<number> {
    const destinations = this.db.prepare('SELECT id FROM stream_destinations WHERE tenant_id = ?').all(tenant) as { id: string }[];
    const page = this.db.prepare('SELECT id, events FROM stream_dead_letters WHERE destination_id = ? AND id > ? ORDER BY id LIMIT ?');
    const rewrite = this.db.prepare('UPDATE stream_dead_letters SET events = ?, event_count = ? WHERE id = ?');
    const drop = this.db.prepare('DELETE FROM stream_dead_letters WHERE id = ?');
    let dropped = 0;
    for (const { id } of destinations) {
      for (let after = 0; ; ) {
        const rows = page.all(id, after, PRUNE_PAGE) as { id: number; events: string }[];
        for (const row of rows) {
          const events = JSON.parse(row.events) as LogEvent[];
          const kept = events.filter((event) => !expired(event));
          if (kept.length === events.length) continue;
          dropped += events.length - kept.length;
          if (kept.length === 0) drop.run(row.id);
          else rewrite.run(JSON.stringify(kept), kept.length, row.id);
        }
        const last = rows.at(-1);
        if (rows.length < PRUNE_PAGE || last === undefined) break;
        after = last.id;
      }
    }
    return dropped;
  }

  async acquireLease(destinationId: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    // One statement, so taking the lease is atomic across processes sharing the file (as the sealer's).
    const { changes } = this.db
      .prepare(
        `INSERT INTO stream_leases (destination_id, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (destination_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE stream_leases.holder = excluded.holder OR stream_leases.expires_at <= ?`,
      )
      .run(destinationId, holder, now + ttlMs, now);
    return changes > 0;
  }

  async releaseLease(destinationId: string, holder: string): Promise<void> {
    this.db.prepare('DELETE FROM stream_leases WHERE destination_id = ? AND holder = ?').run(destinationId, holder);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
