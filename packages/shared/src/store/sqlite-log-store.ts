import type Database from 'better-sqlite3';
import type { LogEvent, Severity } from '../schemas/log-event.js';
import type { AppendResult, LogFilter, LogPage, LogStore, PageRequest, Position, SortOrder, StatsRequest, StatsResult } from './port.js';
import { openSqlite } from './sqlite-database.js';
import type { TenantId } from './tenant-id.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  ts TEXT NOT NULL,
  received_at TEXT NOT NULL,
  user_id TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT,
  ip_address TEXT,
  user_agent TEXT,
  severity TEXT NOT NULL,
  before TEXT,
  after TEXT,
  metadata TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS logs_tenant_id ON logs (tenant_id, id);
CREATE INDEX IF NOT EXISTS logs_tenant_ts ON logs (tenant_id, ts, id);
CREATE INDEX IF NOT EXISTS logs_tenant_severity_ts ON logs (tenant_id, severity, ts, id);
`;

const COLUMNS =
  'id, tenant_id, user_id, action, resource_type, resource_id, ts, received_at, ip_address, user_agent, severity, before, after, metadata';

interface Row {
  id: string;
  tenant_id: string;
  user_id: string;
  action: string;
  resource_type: string;
  resource_id: string | null;
  ts: string;
  received_at: string;
  ip_address: string | null;
  user_agent: string | null;
  severity: Severity;
  before: string | null;
  after: string | null;
  metadata: string | null;
}

const EXPORT_BATCH = 1000;
const DELETE_BATCH = 5000;

function toEvent(row: Row): LogEvent {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    user_id: row.user_id,
    action: row.action,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    timestamp: row.ts,
    received_at: row.received_at,
    ip_address: row.ip_address,
    user_agent: row.user_agent,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
    metadata: row.metadata === null ? null : JSON.parse(row.metadata),
    severity: row.severity,
  };
}

const json = (value: object | null): string | null => (value === null ? null : JSON.stringify(value));

/** Filter to SQL. Every value from a request travels as a bound parameter, never as SQL text. */
function whereClause(tenant: TenantId, filter: LogFilter): { sql: string; params: unknown[] } {
  const clauses = ['tenant_id = ?'];
  const params: unknown[] = [tenant];
  const equal = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    clauses.push(`${column} = ?`);
    params.push(value);
  };
  equal('action', filter.action);
  equal('resource_type', filter.resource_type);
  equal('resource_id', filter.resource_id);
  equal('user_id', filter.user_id);
  equal('ip_address', filter.ip_address);
  if (filter.severity !== undefined) {
    clauses.push(`severity IN (${filter.severity.map(() => '?').join(', ')})`);
    params.push(...filter.severity);
  }
  if (filter.user_agent !== undefined) {
    clauses.push("instr(lower(coalesce(user_agent, '')), ?) > 0");
    params.push(filter.user_agent.toLowerCase());
  }
  if (filter.from !== undefined) {
    clauses.push('ts >= ?');
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    clauses.push('ts < ?');
    params.push(filter.to);
  }
  if (filter.search !== undefined) {
    // instr() is a literal substring test: no pattern syntax, so no wildcard or ReDoS surprises.
    const fields = [
      'action',
      'resource_type',
      'resource_id',
      'user_id',
      'ip_address',
      'user_agent',
      'severity',
      'before',
      'after',
      'metadata',
    ];
    clauses.push(`(${fields.map((field) => `instr(lower(coalesce(${field}, '')), ?) > 0`).join(' OR ')})`);
    params.push(...fields.map(() => filter.search?.toLowerCase()));
  }
  return { sql: clauses.join(' AND '), params };
}

function afterPosition(sort: SortOrder, position: Position | null): { sql: string; params: unknown[] } {
  if (position === null) return { sql: '', params: [] };
  return { sql: ` AND (ts, id) ${sort === 'desc' ? '<' : '>'} (?, ?)`, params: [position.timestamp, position.id] };
}

const orderBy = (sort: SortOrder) => (sort === 'desc' ? 'ts DESC, id DESC' : 'ts ASC, id ASC');

/** LogStore on one SQLite file (better-sqlite3, WAL): the all-in-one store and the local multi-process store. */
export class SqliteLogStore implements LogStore {
  private readonly insert: Database.Statement;
  private readonly byId: Database.Statement;

  private constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.insert = db.prepare(
      `INSERT INTO logs (${COLUMNS}) VALUES (@id, @tenant_id, @user_id, @action, @resource_type, @resource_id, @timestamp, @received_at, @ip_address, @user_agent, @severity, @before, @after, @metadata) ON CONFLICT (tenant_id, id) DO NOTHING`,
    );
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM logs WHERE tenant_id = ? AND id = ?`);
  }

  static open(path: string): SqliteLogStore {
    return new SqliteLogStore(openSqlite(path));
  }

  async append(tenant: TenantId, events: readonly LogEvent[]): Promise<AppendResult> {
    const run = this.db.transaction((batch: readonly LogEvent[]) => {
      const inserted: LogEvent[] = [];
      for (const event of batch) {
        if (event.tenant_id !== tenant) throw new Error('event tenant does not match the tenant it is appended to');
        const result = this.insert.run({
          ...event,
          before: json(event.before),
          after: json(event.after),
          metadata: json(event.metadata),
        });
        if (result.changes === 1) inserted.push(event);
      }
      return inserted;
    });
    const inserted = run(events);
    return { inserted, duplicates: events.length - inserted.length };
  }

  async get(tenant: TenantId, id: string): Promise<LogEvent | null> {
    const row = this.byId.get(tenant, id) as Row | undefined;
    return row ? toEvent(row) : null;
  }

  async query(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<LogPage> {
    const where = whereClause(tenant, filter);
    if (page.kind === 'offset') {
      const rows = this.db
        .prepare(`SELECT ${COLUMNS} FROM logs WHERE ${where.sql} ORDER BY ${orderBy(page.sort)} LIMIT ? OFFSET ?`)
        .all(...where.params, page.size, (page.page - 1) * page.size) as Row[];
      const { total } = this.db.prepare(`SELECT count(*) AS total FROM logs WHERE ${where.sql}`).get(...where.params) as {
        total: number;
      };
      const items = rows.map(toEvent);
      const last = items.at(-1);
      const more = (page.page - 1) * page.size + items.length < total;
      return { items, total, next: more && last ? { timestamp: last.timestamp, id: last.id } : null };
    }
    const after = afterPosition(page.sort, page.after);
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM logs WHERE ${where.sql}${after.sql} ORDER BY ${orderBy(page.sort)} LIMIT ?`)
      .all(...where.params, ...after.params, page.size + 1) as Row[];
    const items = rows.slice(0, page.size).map(toEvent);
    const last = items.at(-1);
    return { items, total: null, next: rows.length > page.size && last ? { timestamp: last.timestamp, id: last.id } : null };
  }

  async *export(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<LogEvent> {
    let position: Position | null = null;
    for (;;) {
      const page = await this.query(tenant, filter, { kind: 'cursor', after: position, size: EXPORT_BATCH, sort });
      for (const item of page.items) yield item;
      if (page.next === null) return;
      position = page.next;
    }
  }

  async stats(tenant: TenantId, filter: LogFilter, request: StatsRequest): Promise<StatsResult> {
    const where = whereClause(tenant, filter);
    const rows = this.db
      .prepare(`SELECT ${request.groupBy} AS k, count(*) AS n FROM logs WHERE ${where.sql} GROUP BY ${request.groupBy}`)
      .all(...where.params) as { k: string | null; n: number }[];
    const totals: Record<string, number> = {};
    for (const row of rows) totals[row.k ?? ''] = row.n;
    return { totals };
  }

  async deleteOlderThan(tenant: TenantId, before: string | null): Promise<number> {
    const statement =
      before === null
        ? this.db.prepare('DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE tenant_id = ? LIMIT ?)')
        : this.db.prepare('DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE tenant_id = ? AND ts < ? LIMIT ?)');
    let deleted = 0;
    // Deleting in slices keeps each write transaction short, so ingest is never stalled for long.
    for (;;) {
      const result = before === null ? statement.run(tenant, DELETE_BATCH) : statement.run(tenant, before, DELETE_BATCH);
      deleted += result.changes;
      if (result.changes < DELETE_BATCH) return deleted;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
