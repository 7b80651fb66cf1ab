import type Database from 'better-sqlite3';
import { eventHash } from '../integrity/event-hash.js';
import type { LogEvent } from '../schemas/log-event.js';
import { applyFilterHandlers, type FilterHandlers } from '../store/filter.js';
import type {
  AppendResult,
  DeleteCause,
  LogFilter,
  LogPage,
  LogStore,
  PageRequest,
  Position,
  SortOrder,
  StatsRequest,
  StatsResult,
} from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { openSqlite } from './database.js';
import { migrateIntegritySchema, startCleanup } from './integrity-schema.js';
import { COLUMNS, type Row, rowToEvent } from './logs-table.js';

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
  metadata TEXT,
  hash TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS logs_tenant_id ON logs (tenant_id, id);
CREATE INDEX IF NOT EXISTS logs_tenant_ts ON logs (tenant_id, ts, id);
CREATE INDEX IF NOT EXISTS logs_tenant_severity_ts ON logs (tenant_id, severity, ts, id);
CREATE TABLE IF NOT EXISTS log_rollups (
  tenant_id TEXT NOT NULL,
  hour TEXT NOT NULL,
  severity TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, hour, severity, action, resource_type, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_rollup_dims (
  tenant_id TEXT NOT NULL,
  dim TEXT NOT NULL,
  value TEXT NOT NULL,
  hour TEXT NOT NULL,
  severity TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, dim, value, hour, severity)
) WITHOUT ROWID;
`;

/** Fills the rollups of a database made before they existed; runs once, when the table is created. */
const BACKFILL_ROLLUPS = `
INSERT INTO log_rollups (tenant_id, hour, severity, action, resource_type, user_id, n)
SELECT tenant_id, substr(ts, 1, 13), severity, action, resource_type, user_id, count(*) FROM logs
WHERE true GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO log_rollup_dims (tenant_id, dim, value, hour, severity, n)
SELECT tenant_id, 'severity', severity, hour, severity, sum(n) FROM log_rollups WHERE true GROUP BY 1, 3, 4, 5
UNION ALL SELECT tenant_id, 'action', action, hour, severity, sum(n) FROM log_rollups WHERE true GROUP BY 1, 3, 4, 5
UNION ALL SELECT tenant_id, 'resource_type', resource_type, hour, severity, sum(n) FROM log_rollups WHERE true GROUP BY 1, 3, 4, 5
UNION ALL SELECT tenant_id, 'user_id', user_id, hour, severity, sum(n) FROM log_rollups WHERE true GROUP BY 1, 3, 4, 5;
`;

const EXPORT_BATCH = 1000;
const DELETE_BATCH = 5000;

const json = (value: object | null): string | null => (value === null ? null : JSON.stringify(value));

/** Filter to SQL. Every value from a request travels as a bound parameter, never as SQL text. */
interface Where {
  clauses: string[];
  params: unknown[];
}

const equal =
  (column: string) =>
  (value: string, where: Where): void => {
    where.clauses.push(`${column} = ?`);
    where.params.push(value);
  };

/** What `search` looks in, as matchesFilter's searchableTexts: each text column and each JSON column's text. */
const SEARCHED_COLUMNS = [
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

const WHERE_CLAUSES: FilterHandlers<Where> = {
  action: equal('action'),
  resource_type: equal('resource_type'),
  resource_id: equal('resource_id'),
  user_id: equal('user_id'),
  ip_address: equal('ip_address'),
  severity: (value, where) => {
    where.clauses.push(`severity IN (${value.map(() => '?').join(', ')})`);
    where.params.push(...value);
  },
  user_agent: (value, where) => {
    where.clauses.push("instr(lower(coalesce(user_agent, '')), ?) > 0");
    where.params.push(value.toLowerCase());
  },
  from: (value, where) => {
    where.clauses.push('ts >= ?');
    where.params.push(value);
  },
  to: (value, where) => {
    where.clauses.push('ts < ?');
    where.params.push(value);
  },
  search: (value, where) => {
    // instr() is a literal substring test: no pattern syntax, so no wildcard or ReDoS surprises.
    where.clauses.push(`(${SEARCHED_COLUMNS.map((column) => `instr(lower(coalesce(${column}, '')), ?) > 0`).join(' OR ')})`);
    where.params.push(...SEARCHED_COLUMNS.map(() => value.toLowerCase()));
  },
};

export function whereClause(tenant: TenantId, filter: LogFilter): { sql: string; params: unknown[] } {
  const where: Where = { clauses: ['tenant_id = ?'], params: [tenant] };
  applyFilterHandlers(filter, WHERE_CLAUSES, where);
  return { sql: where.clauses.join(' AND '), params: where.params };
}

function afterPosition(sort: SortOrder, position: Position | null): { sql: string; params: unknown[] } {
  if (position === null) return { sql: '', params: [] };
  return { sql: ` AND (ts, id) ${sort === 'desc' ? '<' : '>'} (?, ?)`, params: [position.timestamp, position.id] };
}

const orderBy = (sort: SortOrder) => (sort === 'desc' ? 'ts DESC, id DESC' : 'ts ASC, id ASC');

/** The rollup row an event counts in: its tenant, UTC hour ('YYYY-MM-DDTHH') and the grouped fields. */
interface RollupKey {
  tenant_id: string;
  hour: string;
  severity: string;
  action: string;
  resource_type: string;
  user_id: string;
}

type RollupSource = Pick<LogEvent, 'tenant_id' | 'timestamp' | 'severity' | 'action' | 'resource_type' | 'user_id'>;

/** Counts per rollup row, so a batch touches each row once however many of its events share it. */
function countByRollup(events: readonly RollupSource[]) {
  const counts = new Map<string, { key: RollupKey; n: number }>();
  for (const event of events) {
    const key: RollupKey = {
      tenant_id: event.tenant_id,
      hour: event.timestamp.slice(0, 13),
      severity: event.severity,
      action: event.action,
      resource_type: event.resource_type,
      user_id: event.user_id,
    };
    const id = JSON.stringify(Object.values(key));
    const entry = counts.get(id);
    if (entry) entry.n++;
    else counts.set(id, { key, n: 1 });
  }
  return counts.values();
}

const HOUR_ALIGNED = /T\d{2}:00:00\.000Z$/;

/**
 * Whether the hourly rollups alone can answer stats for this filter: only the grouped fields and
 * whole-hour bounds are kept in them. Anything else falls back to an indexed query over the events.
 */
export function rollupsCanAnswer(filter: LogFilter): boolean {
  const aligned = (bound: string | undefined) => bound === undefined || HOUR_ALIGNED.test(bound);
  return (
    filter.resource_id === undefined &&
    filter.ip_address === undefined &&
    filter.user_agent === undefined &&
    filter.search === undefined &&
    aligned(filter.from) &&
    aligned(filter.to)
  );
}

const CROSS_FIELDS = ['action', 'resource_type', 'user_id'] as const;
type CrossField = (typeof CROSS_FIELDS)[number];

/**
 * Which rollup answers: the per-field one when at most one of action, resource_type and user_id is
 * filtered or grouped on (a few rows per hour, so the default Python stats stays cheap on any
 * tenant), else the cross-field one.
 */
function rollupPlan(
  filter: LogFilter,
  groupBy: StatsRequest['groupBy'],
): { table: 'dims'; dim: CrossField | 'severity' } | { table: 'cross' } {
  const involved = CROSS_FIELDS.filter((field) => filter[field] !== undefined || groupBy === field);
  if (involved.length > 1) return { table: 'cross' };
  return { table: 'dims', dim: involved[0] ?? 'severity' };
}

/** The rollup filter: the same bound-parameter discipline as whereClause, on the rollup columns. */
function rollupWhere(tenant: TenantId, filter: LogFilter, plan: ReturnType<typeof rollupPlan>): { sql: string; params: unknown[] } {
  const clauses = ['tenant_id = ?'];
  const params: unknown[] = [tenant];
  if (plan.table === 'dims') {
    clauses.push('dim = ?');
    params.push(plan.dim);
    const value = plan.dim === 'severity' ? undefined : filter[plan.dim];
    if (value !== undefined) {
      clauses.push('value = ?');
      params.push(value);
    }
  } else {
    for (const column of CROSS_FIELDS) {
      const value = filter[column];
      if (value === undefined) continue;
      clauses.push(`${column} = ?`);
      params.push(value);
    }
  }
  if (filter.severity !== undefined) {
    clauses.push(`severity IN (${filter.severity.map(() => '?').join(', ')})`);
    params.push(...filter.severity);
  }
  if (filter.from !== undefined) {
    clauses.push('hour >= ?');
    params.push(filter.from.slice(0, 13));
  }
  if (filter.to !== undefined) {
    clauses.push('hour < ?');
    params.push(filter.to.slice(0, 13));
  }
  return { sql: clauses.join(' AND '), params };
}

const GROUP_COLUMNS: Record<StatsRequest['groupBy'], string> = {
  severity: 'severity',
  action: 'action',
  resource_type: 'resource_type',
  user_id: 'user_id',
};

/** LogStore on one SQLite file (better-sqlite3, WAL): the all-in-one store and the local multi-process store. */
export class SqliteLogStore implements LogStore {
  private readonly insert: Database.Statement;
  private readonly byId: Database.Statement;
  private readonly addToRollup: Database.Statement;
  private readonly dropEmptyRollup: Database.Statement;
  private readonly addToDimRollup: Database.Statement;
  private readonly dropEmptyDimRollup: Database.Statement;

  private constructor(private readonly db: Database.Database) {
    const hadRollups = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_rollup_dims'").get() !== undefined;
    db.exec(SCHEMA);
    const columns = db.prepare("SELECT name FROM pragma_table_info('logs')").all() as { name: string }[];
    if (!columns.some((column) => column.name === 'hash')) db.exec('ALTER TABLE logs ADD COLUMN hash TEXT');
    migrateIntegritySchema(db);
    if (!hadRollups) db.transaction(() => db.exec(`DELETE FROM log_rollups; ${BACKFILL_ROLLUPS}`))();
    this.insert = db.prepare(
      `INSERT INTO logs (${COLUMNS}) VALUES (@id, @tenant_id, @user_id, @action, @resource_type, @resource_id, @timestamp, @received_at, @ip_address, @user_agent, @severity, @before, @after, @metadata, @hash) ON CONFLICT (tenant_id, id) DO NOTHING`,
    );
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM logs WHERE tenant_id = ? AND id = ?`);
    this.addToRollup = db.prepare(
      `INSERT INTO log_rollups (tenant_id, hour, severity, action, resource_type, user_id, n)
       VALUES (@tenant_id, @hour, @severity, @action, @resource_type, @user_id, @n)
       ON CONFLICT (tenant_id, hour, severity, action, resource_type, user_id) DO UPDATE SET n = n + excluded.n`,
    );
    this.addToDimRollup = db.prepare(
      `INSERT INTO log_rollup_dims (tenant_id, dim, value, hour, severity, n) VALUES (@tenant_id, @dim, @value, @hour, @severity, @n)
       ON CONFLICT (tenant_id, dim, value, hour, severity) DO UPDATE SET n = n + excluded.n`,
    );
    this.dropEmptyDimRollup = db.prepare(
      'DELETE FROM log_rollup_dims WHERE tenant_id = @tenant_id AND dim = @dim AND value = @value AND hour = @hour AND severity = @severity AND n <= 0',
    );
    this.dropEmptyRollup = db.prepare(
      `DELETE FROM log_rollups WHERE tenant_id = @tenant_id AND hour = @hour AND severity = @severity AND action = @action
       AND resource_type = @resource_type AND user_id = @user_id AND n <= 0`,
    );
  }

  static open(path: string): SqliteLogStore {
    return new SqliteLogStore(openSqlite(path));
  }

  async append(tenant: TenantId, events: readonly LogEvent[]): Promise<AppendResult> {
    // Rollups change in the same transaction as the events, and only for rows really inserted,
    // so a redelivered event is never counted twice and a crash never leaves them apart.
    const run = this.db.transaction((batch: readonly LogEvent[]) => {
      const inserted: LogEvent[] = [];
      for (const event of batch) {
        if (event.tenant_id !== tenant) throw new Error('event tenant does not match the tenant it is appended to');
        // The hash is computed once, when the event is built; only an event that arrives without one gets it here.
        const stored = event.hash === undefined ? { ...event, hash: eventHash(event) } : event;
        const result = this.insert.run({
          ...stored,
          before: json(event.before),
          after: json(event.after),
          metadata: json(event.metadata),
        });
        if (result.changes === 1) inserted.push(stored);
      }
      this.adjustRollups(inserted, 1);
      return inserted;
    });
    const inserted = run(events);
    return { inserted, duplicates: events.length - inserted.length };
  }

  /** Adds (sign 1) or removes (sign -1) events from both rollups; runs inside the caller's transaction. */
  private adjustRollups(events: readonly RollupSource[], sign: 1 | -1): void {
    const perField = new Map<string, { key: Record<string, string>; n: number }>();
    for (const { key, n } of countByRollup(events)) {
      this.addToRollup.run({ ...key, n: sign * n });
      if (sign < 0) this.dropEmptyRollup.run(key);
      for (const dim of ['severity', ...CROSS_FIELDS] as const) {
        const dimKey = { tenant_id: key.tenant_id, dim, value: key[dim], hour: key.hour, severity: key.severity };
        const id = JSON.stringify(Object.values(dimKey));
        const entry = perField.get(id);
        if (entry) entry.n += n;
        else perField.set(id, { key: dimKey, n });
      }
    }
    for (const { key, n } of perField.values()) {
      this.addToDimRollup.run({ ...key, n: sign * n });
      if (sign < 0) this.dropEmptyDimRollup.run(key);
    }
  }

  async get(tenant: TenantId, id: string): Promise<LogEvent | null> {
    const row = this.byId.get(tenant, id) as Row | undefined;
    return row ? rowToEvent(row) : null;
  }

  async query(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<LogPage> {
    const where = whereClause(tenant, filter);
    if (page.kind === 'offset') {
      const rows = this.db
        .prepare(`SELECT ${COLUMNS} FROM logs WHERE ${where.sql} ORDER BY ${orderBy(page.sort)} LIMIT ? OFFSET ?`)
        .all(...where.params, page.size, (page.page - 1) * page.size) as Row[];
      const total = this.count(tenant, filter);
      const items = rows.map(rowToEvent);
      const last = items.at(-1);
      const more = (page.page - 1) * page.size + items.length < total;
      return { items, total, next: more && last ? { timestamp: last.timestamp, id: last.id } : null };
    }
    const after = afterPosition(page.sort, page.after);
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM logs WHERE ${where.sql}${after.sql} ORDER BY ${orderBy(page.sort)} LIMIT ?`)
      .all(...where.params, ...after.params, page.size + 1) as Row[];
    const items = rows.slice(0, page.size).map(rowToEvent);
    const last = items.at(-1);
    return { items, total: null, next: rows.length > page.size && last ? { timestamp: last.timestamp, id: last.id } : null };
  }

  /**
   * Matching events in all, for the offset page's meta. From the rollups whenever they can answer,
   * as stats does: counting the rows cost 400 ms a first page on a tenant of 1 000 000 events
   * (make benchmark, scenario 4), the rollups a few rows per hour.
   */
  private count(tenant: TenantId, filter: LogFilter): number {
    if (rollupsCanAnswer(filter)) {
      const plan = rollupPlan(filter, 'severity');
      const where = rollupWhere(tenant, filter, plan);
      const table = plan.table === 'dims' ? 'log_rollup_dims' : 'log_rollups';
      const row = this.db.prepare(`SELECT coalesce(sum(n), 0) AS total FROM ${table} WHERE ${where.sql}`).get(...where.params);
      return (row as { total: number }).total;
    }
    const where = whereClause(tenant, filter);
    return (this.db.prepare(`SELECT count(*) AS total FROM logs WHERE ${where.sql}`).get(...where.params) as { total: number }).total;
  }

  async *export(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<LogEvent> {
    let position: Position | null = null;
    for (;;) {
      const page = await this.query(tenant, filter, { kind: 'cursor', after: position, size: EXPORT_BATCH, sort });
      for (const item of page.items) yield item;
      if (page.next === null) return;
      position = page.next;
      // Each page is read synchronously and a fast reader takes the events in microtasks, so without
      // this the whole export ran in one turn of the event loop: make benchmark measured a 27 s
      // event-loop stall while one tenant exported 1 000 000 events, every other request waiting.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async stats(tenant: TenantId, filter: LogFilter, request: StatsRequest): Promise<StatsResult> {
    const fromRollups = rollupsCanAnswer(filter);
    const plan = rollupPlan(filter, request.groupBy);
    const where = fromRollups ? rollupWhere(tenant, filter, plan) : whereClause(tenant, filter);
    const table = !fromRollups ? 'logs' : plan.table === 'dims' ? 'log_rollup_dims' : 'log_rollups';
    const key = fromRollups && plan.table === 'dims' && request.groupBy !== 'severity' ? 'value' : GROUP_COLUMNS[request.groupBy];
    const hour = fromRollups ? 'hour' : 'substr(ts, 1, 13)';
    const bucket = request.interval === 'hour' ? hour : request.interval === 'day' ? `substr(${hour}, 1, 10)` : "''";
    const counted = fromRollups ? 'sum(n)' : 'count(*)';
    const rows = this.db
      .prepare(
        `SELECT ${key} AS k, ${bucket} AS b, ${counted} AS total FROM ${table} WHERE ${where.sql} GROUP BY b, k HAVING total > 0 ORDER BY b`,
      )
      .all(...where.params) as { k: string; b: string; total: number }[];
    // Group names are client text: on a plain object an action or subject named `__proto__` would
    // set the prototype instead of a count, and that group would vanish from the answer.
    const totals: Record<string, number> = Object.create(null);
    for (const row of rows) totals[row.k] = (totals[row.k] ?? 0) + row.total;
    const source = fromRollups ? 'rollups' : 'index';
    if (request.interval === undefined) return { totals, source };
    const buckets: NonNullable<StatsResult['buckets']> = [];
    const suffix = request.interval === 'hour' ? ':00:00.000Z' : 'T00:00:00.000Z';
    for (const row of rows) {
      const start = `${row.b}${suffix}`;
      let last = buckets.at(-1);
      if (last?.start !== start) {
        last = { start, counts: Object.create(null) };
        buckets.push(last);
      }
      last.counts[row.k] = row.total;
    }
    return { totals, buckets, source };
  }

  async deleteOlderThan(tenant: TenantId, before: string | null, cause: DeleteCause = {}): Promise<number> {
    const doomed = this.db.prepare(
      `SELECT seq, id, tenant_id, ts AS timestamp, severity, action, resource_type, user_id, hash FROM logs WHERE tenant_id = ?${before === null ? '' : ' AND ts < ?'} LIMIT ?`,
    );
    const remove = this.db.prepare('DELETE FROM logs WHERE seq IN (SELECT value FROM json_each(?))');
    const cleanup = startCleanup(this.db, { tenant, before, auditEventId: cause.auditEventId ?? null, now: new Date() });
    // Each slice leaves the rollups matching the events, and the record of which ids went, in one transaction.
    const slice = this.db.transaction(() => {
      const rows = (before === null ? doomed.all(tenant, DELETE_BATCH) : doomed.all(tenant, before, DELETE_BATCH)) as (RollupSource & {
        seq: number;
        id: string;
        hash: string | null;
      })[];
      if (rows.length === 0) return 0;
      this.adjustRollups(rows, -1);
      cleanup.remember(rows);
      return remove.run(JSON.stringify(rows.map((row) => row.seq))).changes;
    });
    let deleted = 0;
    try {
      // Deleting in slices keeps each write transaction short, so ingest is never stalled for long.
      for (;;) {
        const changes = slice();
        deleted += changes;
        if (changes < DELETE_BATCH) return deleted;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      cleanup.finish(deleted);
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
