import type Database from 'better-sqlite3';
import { QueryTimeout } from '../errors/catalogue.js';
import { eventHash } from '../integrity/event-hash.js';
import type { LogEvent } from '../schemas/log-event.js';
import { applyFilterHandlers, type FilterHandlers, needsScan, SEARCHED_COLUMNS } from '../store/filter.js';
import type {
  AppendResult,
  DeleteCause,
  DeleteScope,
  EventText,
  LogFilter,
  LogPage,
  LogStore,
  PageRequest,
  Position,
  SortOrder,
  StatsRequest,
  StatsResult,
  TextPage,
} from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { CountCache } from './count-cache.js';
import { openSqlite } from './database.js';
import { migrateIntegritySchema, startCleanup } from './integrity-schema.js';
import { COLUMNS, EVENT_JSON_SQL, type Row, rowToEvent } from './logs-table.js';

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
-- A tenant's events in commit order: what the sealer, verify (integrity-store.ts) and the stream's replay (stream-log.ts) read.
CREATE INDEX IF NOT EXISTS logs_tenant_seq ON logs (tenant_id, seq);
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

/** An export page ends at this many rows or at EXPORT_PAGE_BYTES of stored text, whichever comes first. */
const EXPORT_PAGE_ROWS = 1000;
/** Prepared list statements kept at once (SqliteLogStore.prepared). */
const PREPARED_MAX = 200;
/**
 * A stalled export pins the page it is reading: 1000 events of 48 KiB were 48 MiB each, and 85
 * stalled exports ran the server out of heap. By bytes, a page of large events is a short page.
 */
export const EXPORT_PAGE_BYTES = 256 * 1024;

/** Stored text of a row, close enough to its bytes to bound a page (UTF-16 length, not UTF-8). */
function rowLength(row: Row): number {
  // Summed field by field: an array of the five per row was garbage on every exported row (#15).
  return (
    200 +
    row.action.length +
    row.resource_type.length +
    row.user_id.length +
    (row.resource_id?.length ?? 0) +
    (row.user_agent?.length ?? 0) +
    (row.before?.length ?? 0) +
    (row.after?.length ?? 0) +
    (row.metadata?.length ?? 0)
  );
}
const DELETE_BATCH = 5000;

/** What an export page needs of each row to continue after it. */
interface PagedRow {
  id: string;
  ts: string;
}
/** A row of exportText's pages: the event's JSON text, null for a row stored without a hash. */
interface TextRow extends PagedRow {
  json: string | null;
}
/** What exportText and queryText select of a row. */
const TEXT_COLUMNS = `id, ts, ${EVENT_JSON_SQL} AS json`;
/** An export page's rows and where the next page starts, null after the last. */
interface ExportPage<R> {
  rows: R[];
  next: Position | null;
}
/** How an export reads its rows: the columns selected and a row's size for the page bound. */
interface ExportRead<R> {
  columns: string;
  length: (row: R) => number;
}

/**
 * `search` and `user_agent` are substring tests that no index serves: they read every event of the
 * tenant in the time range, calling fold() on each searched column. Run as one statement, 100 000
 * events held the event loop for seconds, every tenant's requests waiting. So they run in windows
 * of this many events of the (tenant, ts, id) index, yielding to the event loop between windows
 * and stopping at the query timeout.
 */
export const SCAN_WINDOW_ROWS = 1000;

export interface SqliteLogStoreOptions {
  /** A query with `search` or `user_agent` that has not finished after this long is stopped (503 QueryTimeout). */
  queryTimeoutMs?: number | undefined;
}

export const DEFAULT_SQLITE_QUERY_TIMEOUT_MS = 10_000;

/** A slice of SQL: a condition to AND in, with its bound parameters. */
interface Clause {
  sql: string;
  params: unknown[];
}

const NO_CLAUSE: Clause = { sql: '', params: [] };
const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

const json = (value: object | null): string | null => (value === null ? null : JSON.stringify(value));

/** Filter to SQL. Every value from a request travels as a bound parameter, never as SQL text. */
interface Where {
  clauses: string[];
  params: unknown[];
  /** The direction a position bounds the index walk in, when the query pages on from one (see pagedFrom). */
  paging: SortOrder | null;
}

const equal =
  (column: string) =>
  (value: string, where: Where): void => {
    where.clauses.push(`${column} = ?`);
    where.params.push(value);
  };

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
    where.clauses.push("instr(fold(coalesce(user_agent, '')), ?) > 0");
    where.params.push(value.toLowerCase());
  },
  // `+ts` when a position bounds the walk on that side: see pagedFrom.
  from: (value, where) => {
    where.clauses.push(where.paging === 'asc' ? '+ts >= ?' : 'ts >= ?');
    where.params.push(value);
  },
  to: (value, where) => {
    where.clauses.push(where.paging === 'desc' ? '+ts < ?' : 'ts < ?');
    where.params.push(value);
  },
  search: (value, where) => {
    // instr() is a literal substring test: no pattern syntax, so no wildcard or ReDoS surprises.
    where.clauses.push(`(${SEARCHED_COLUMNS.map((column) => `instr(fold(coalesce(${column}, '')), ?) > 0`).join(' OR ')})`);
    where.params.push(...SEARCHED_COLUMNS.map(() => value.toLowerCase()));
  },
};

/**
 * The SQL function whereClause's `search` and `user_agent` clauses call: every connection that runs
 * them needs it (the store's, and the stream log's own). SQLite's lower() folds ASCII only, so
 * `search=ÉCOLE` missed `ÉCOLE` while the stream (and MongoDB, whose search_text is folded in JS)
 * found it. fold() is the stream's own toLowerCase.
 */
export function registerFold(db: Database.Database): void {
  db.function('fold', { deterministic: true }, (text: unknown) => (typeof text === 'string' ? text.toLowerCase() : text));
}

/**
 * Which side of a query a position bounds, for whereClause: `sort` when the query continues after
 * one, else null. Then `to` (desc) or `from` (asc) is written `+ts`, a test on each row that the
 * index walk does not use: SQLite took the filter's bound over the position's as where the walk
 * starts, so with to= every export page (and every cursor page) read all the pages before it
 * again, an export of n events reading n²/2000 index entries (#15).
 */
export const pagedFrom = (sort: SortOrder, position: Position | null): SortOrder | null => (position === null ? null : sort);

/** The WHERE clause of a filter (needs registerFold on the connection); `paging` from pagedFrom. */
export function whereClause(tenant: TenantId, filter: LogFilter, paging: SortOrder | null = null): { sql: string; params: unknown[] } {
  const where: Where = { clauses: ['tenant_id = ?'], params: [tenant], paging };
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
    // In the severity dimension the value is the severity: saying so lets the primary key
    // (tenant_id, dim, value, hour, ...) seek to those severities instead of reading all four.
    // The list's first page counts its total here; this took a quarter of the rows (#15).
    if (plan.table === 'dims' && plan.dim === 'severity') {
      clauses.push(`value IN (${filter.severity.map(() => '?').join(', ')})`);
      params.push(...filter.severity);
    }
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
  private readonly statements = new Map<string, Database.Statement>();
  /** The offset pages' totals, while the file is unchanged (count-cache.ts). */
  private readonly counts: CountCache;
  private readonly addToRollup: Database.Statement;
  private readonly dropEmptyRollup: Database.Statement;
  private readonly addToDimRollup: Database.Statement;
  private readonly dropEmptyDimRollup: Database.Statement;

  private readonly queryTimeoutMs: number;

  private constructor(
    private readonly db: Database.Database,
    options: SqliteLogStoreOptions,
  ) {
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_SQLITE_QUERY_TIMEOUT_MS;
    registerFold(db);
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
    this.counts = new CountCache(db);
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

  static open(path: string, options: SqliteLogStoreOptions = {}): SqliteLogStore {
    return new SqliteLogStore(openSqlite(path), options);
  }

  /**
   * The windows a scanning query reads, in `sort` order from `start`: each is a condition bounding
   * the rows to at most SCAN_WINDOW_ROWS of the tenant's time range (`end` is its last row, null for
   * the last window). Between windows the event loop runs; past the query timeout it throws.
   */
  private async *scanWindows(tenant: TenantId, filter: LogFilter, sort: SortOrder, start: Position | null): AsyncGenerator<Clause> {
    const deadline = Date.now() + this.queryTimeoutMs;
    let position = start;
    for (;;) {
      const end = this.windowEnd(tenant, filter, sort, position);
      const after = afterPosition(sort, position);
      const until: Clause = end
        ? { sql: ` AND (ts, id) ${sort === 'desc' ? '>=' : '<='} (?, ?)`, params: [end.timestamp, end.id] }
        : NO_CLAUSE;
      yield { sql: `${after.sql}${until.sql}`, params: [...after.params, ...until.params] };
      if (!end) return;
      position = end;
      await yieldToEventLoop();
      if (Date.now() > deadline) throw new QueryTimeout(this.queryTimeoutMs);
    }
  }

  /**
   * The last event of the scan window after `position`: the SCAN_WINDOW_ROWS-th of the tenant's
   * time range (tenant, from, to: what the (tenant_id, ts, id) index walks), or null when fewer are left.
   */
  private windowEnd(tenant: TenantId, filter: LogFilter, sort: SortOrder, position: Position | null): Position | null {
    const range = whereClause(tenant, { from: filter.from, to: filter.to } as LogFilter, pagedFrom(sort, position));
    const after = afterPosition(sort, position);
    const end = this.db
      .prepare(`SELECT ts, id FROM logs WHERE ${range.sql}${after.sql} ORDER BY ${orderBy(sort)} LIMIT 1 OFFSET ${SCAN_WINDOW_ROWS - 1}`)
      .get(...range.params, ...after.params) as { ts: string; id: string } | undefined;
    return end ? { timestamp: end.ts, id: end.id } : null;
  }

  /** One page of a scanning query, window by window (see scanWindows). */
  private async scanQuery(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<LogPage> {
    const where = whereClause(tenant, filter);
    const select = (window: Clause, limit: number, offset = 0) =>
      this.db
        .prepare(`SELECT ${COLUMNS} FROM logs WHERE ${where.sql}${window.sql} ORDER BY ${orderBy(page.sort)} LIMIT ? OFFSET ?`)
        .all(...where.params, ...window.params, limit, offset) as Row[];
    const rows: Row[] = [];
    if (page.kind === 'cursor') {
      for await (const window of this.scanWindows(tenant, filter, page.sort, page.after)) {
        rows.push(...select(window, page.size + 1 - rows.length));
        if (rows.length > page.size) break;
      }
      const items = rows.slice(0, page.size).map(rowToEvent);
      const last = items.at(-1);
      return { items, total: null, next: rows.length > page.size && last ? { timestamp: last.timestamp, id: last.id } : null };
    }
    // Offset paging counts every match (the Python meta's total), so it reads every window.
    const skip = (page.page - 1) * page.size;
    let seen = 0;
    for await (const window of this.scanWindows(tenant, filter, page.sort, null)) {
      const n = (
        this.db.prepare(`SELECT count(*) AS n FROM logs WHERE ${where.sql}${window.sql}`).get(...where.params, ...window.params) as {
          n: number;
        }
      ).n;
      const wanted = page.size - rows.length;
      if (wanted > 0 && seen + n > skip) rows.push(...select(window, wanted, Math.max(0, skip - seen)));
      seen += n;
    }
    const items = rows.map(rowToEvent);
    const last = items.at(-1);
    const more = skip + items.length < seen;
    return { items, total: seen, next: more && last ? { timestamp: last.timestamp, id: last.id } : null };
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
    // IMMEDIATE: the write lock is taken (waiting with busy_timeout) before anything is read, so a
    // commit by another connection in between (the sealer's thread, another process) is waited for,
    // never an SQLITE_BUSY_SNAPSHOT.
    const inserted = run.immediate(events);
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
    if (needsScan(filter)) return this.scanQuery(tenant, filter, page);
    return this.indexedPage<Row, LogEvent>(tenant, filter, page, COLUMNS, rowToEvent);
  }

  /** The same page as query, each event as its JSON text built by SQLite from what is stored (EVENT_JSON_SQL, as exportText). */
  async queryText(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<TextPage> {
    if (needsScan(filter)) {
      const events = await this.scanQuery(tenant, filter, page);
      return { ...events, items: events.items.map((event) => ({ id: event.id, json: JSON.stringify(event) })) };
    }
    return this.indexedPage<TextRow, EventText>(tenant, filter, page, TEXT_COLUMNS, (row) => this.textOf(tenant, row));
  }

  /** One page of an indexed (not scanning) query: its rows read as `columns`, each made an item by `item`. */
  private indexedPage<R extends PagedRow, T>(
    tenant: TenantId,
    filter: LogFilter,
    page: PageRequest,
    columns: string,
    item: (row: R) => T,
  ): { items: T[]; total: number | null; next: Position | null } {
    const at = (row: R | undefined) => (row ? { timestamp: row.ts, id: row.id } : null);
    if (page.kind === 'offset') {
      const where = whereClause(tenant, filter);
      const rows = this.prepared(`SELECT ${columns} FROM logs WHERE ${where.sql} ORDER BY ${orderBy(page.sort)} LIMIT ? OFFSET ?`).all(
        ...where.params,
        page.size,
        (page.page - 1) * page.size,
      ) as R[];
      const total = this.count(tenant, filter);
      const more = (page.page - 1) * page.size + rows.length < total;
      return { items: rows.map(item), total, next: more ? at(rows.at(-1)) : null };
    }
    const where = whereClause(tenant, filter, pagedFrom(page.sort, page.after));
    const after = afterPosition(page.sort, page.after);
    const rows = this.prepared(`SELECT ${columns} FROM logs WHERE ${where.sql}${after.sql} ORDER BY ${orderBy(page.sort)} LIMIT ?`).all(
      ...where.params,
      ...after.params,
      page.size + 1,
    ) as R[];
    const items = rows.slice(0, page.size);
    return { items: items.map(item), total: null, next: rows.length > page.size ? at(items.at(-1)) : null };
  }

  /**
   * Matching events in all, for the offset page's meta. From the rollups whenever they can answer,
   * as stats does: counting the rows cost 400 ms a first page on a tenant of 1 000 000 events
   * (make benchmark, scenario 4), the rollups a few rows per hour.
   */
  private count(tenant: TenantId, filter: LogFilter): number {
    const { sql, params } = this.countStatement(tenant, filter);
    return this.counts.get(
      tenant,
      `${sql}\u0000${JSON.stringify(params)}`,
      () => (this.prepared(sql).get(...params) as { total: number }).total,
    );
  }

  private countStatement(tenant: TenantId, filter: LogFilter): Clause {
    if (rollupsCanAnswer(filter)) {
      const plan = rollupPlan(filter, 'severity');
      const where = rollupWhere(tenant, filter, plan);
      const table = plan.table === 'dims' ? 'log_rollup_dims' : 'log_rollups';
      return { sql: `SELECT coalesce(sum(n), 0) AS total FROM ${table} WHERE ${where.sql}`, params: where.params };
    }
    const where = whereClause(tenant, filter);
    return { sql: `SELECT count(*) AS total FROM logs WHERE ${where.sql}`, params: where.params };
  }

  /**
   * The list's statements, prepared once per SQL text: compiling them on every request was 4.5 % of
   * the server's CPU under scenario 4, the first page compiling two (#15). The texts differ only by
   * the filter's shape (values are parameters), so few exist; past PREPARED_MAX the cache starts over.
   * Only for statements run to completion at once (all, get): an iterated one stays busy meanwhile.
   */
  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      if (this.statements.size >= PREPARED_MAX) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  async *export(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<LogEvent> {
    // Rows are mapped one at a time as the client takes them: only the page's rows are held.
    for await (const rows of this.exportRows<Row>(tenant, filter, sort, { columns: COLUMNS, length: rowLength }))
      for (const row of rows) yield rowToEvent(row);
  }

  /** The same events as export, each line built by SQLite from the stored text (EVENT_JSON_SQL), a page at a time. */
  async *exportText(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<readonly EventText[]> {
    const read = { columns: TEXT_COLUMNS, length: (row: TextRow) => row.json?.length ?? 1000 };
    for await (const rows of this.exportRows<TextRow>(tenant, filter, sort, read)) yield rows.map((row) => this.textOf(tenant, row));
  }

  /** A TEXT_COLUMNS row as its event's text; a row stored without a hash takes rowToEvent, which computes it, from the whole row read again. */
  private textOf(tenant: TenantId, row: TextRow): EventText {
    return { id: row.id, json: row.json ?? JSON.stringify(rowToEvent(this.byId.get(tenant, row.id) as Row)) };
  }

  /** The matching rows, a page (one synchronous read) at a time. */
  private async *exportRows<R extends PagedRow>(
    tenant: TenantId,
    filter: LogFilter,
    sort: SortOrder,
    read: ExportRead<R>,
  ): AsyncIterable<R[]> {
    let position: Position | null = null;
    // The pages after the first share one statement: preparing it per page was 3 % of an export.
    const statements = new Map<string, Database.Statement>();
    for (;;) {
      const page: ExportPage<R> = this.exportPage(tenant, filter, sort, position, read, statements);
      yield page.rows;
      if (page.next === null) return;
      position = page.next;
      // Each page is read synchronously and a fast reader takes the events in microtasks, so without
      // this the whole export ran in one turn of the event loop: make benchmark measured a 27 s
      // event-loop stall while one tenant exported 1 000 000 events, every other request waiting.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The next export page, read in one synchronous pass that stops at the row or byte bound; with a
   * scanning filter also at the end of one scan window, so a page never reads more than a window
   * of events (an export has no query timeout: it has the idle cut-off and the export caps).
   * `next` is where the following page starts, null when this was the last.
   */
  private exportPage<R extends PagedRow>(
    tenant: TenantId,
    filter: LogFilter,
    sort: SortOrder,
    position: Position | null,
    read: ExportRead<R>,
    statements: Map<string, Database.Statement>,
  ): ExportPage<R> {
    const where = whereClause(tenant, filter, pagedFrom(sort, position));
    const after = afterPosition(sort, position);
    const window = needsScan(filter) ? this.windowEnd(tenant, filter, sort, position) : null;
    const until: Clause = window
      ? { sql: ` AND (ts, id) ${sort === 'desc' ? '>=' : '<='} (?, ?)`, params: [window.timestamp, window.id] }
      : NO_CLAUSE;
    const sql = `SELECT ${read.columns} FROM logs WHERE ${where.sql}${after.sql}${until.sql} ORDER BY ${orderBy(sort)} LIMIT ?`;
    const statement = statements.get(sql) ?? this.db.prepare(sql);
    statements.set(sql, statement);
    const rows: R[] = [];
    let bytes = 0;
    for (const row of statement.iterate(...where.params, ...after.params, ...until.params, EXPORT_PAGE_ROWS + 1) as IterableIterator<R>) {
      if (rows.length === EXPORT_PAGE_ROWS || bytes >= EXPORT_PAGE_BYTES) {
        const last = rows.at(-1) as R;
        return { rows, next: { timestamp: last.ts, id: last.id } };
      }
      rows.push(row);
      bytes += read.length(row);
    }
    return { rows, next: window };
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
    const grouped = (window: Clause) =>
      this.db
        .prepare(
          `SELECT ${key} AS k, ${bucket} AS b, ${counted} AS total FROM ${table} WHERE ${where.sql}${window.sql} GROUP BY b, k HAVING total > 0 ORDER BY b`,
        )
        .all(...where.params, ...window.params) as { k: string; b: string; total: number }[];
    const rows = needsScan(filter) ? await this.scanGroups(tenant, filter, grouped) : grouped(NO_CLAUSE);
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

  /** Stats of a scanning filter: each window grouped on its own, the counts added up, ordered by bucket. */
  private async scanGroups(
    tenant: TenantId,
    filter: LogFilter,
    grouped: (window: Clause) => { k: string; b: string; total: number }[],
  ): Promise<{ k: string; b: string; total: number }[]> {
    const sums = new Map<string, { k: string; b: string; total: number }>();
    for await (const window of this.scanWindows(tenant, filter, 'asc', null)) {
      for (const row of grouped(window)) {
        const id = JSON.stringify([row.b, row.k]);
        const sum = sums.get(id);
        if (sum) sum.total += row.total;
        else sums.set(id, { ...row });
      }
    }
    return [...sums.values()].sort((a, b) => (a.b < b.b ? -1 : a.b > b.b ? 1 : 0));
  }

  async deleteOlderThan(tenant: TenantId, before: string | null, cause: DeleteCause = {}, scope: DeleteScope = {}): Promise<number> {
    const severities = scope.severities ?? null;
    const clauses = [
      before === null ? '' : ' AND ts < @before',
      severities === null ? '' : ' AND severity IN (SELECT value FROM json_each(@severities))',
      scope.keepAction === undefined ? '' : ' AND action <> @keepAction',
    ].join('');
    const doomed = this.db.prepare(
      `SELECT seq, id, tenant_id, ts AS timestamp, severity, action, resource_type, user_id, hash FROM logs WHERE tenant_id = @tenant${clauses} LIMIT @limit`,
    );
    const remove = this.db.prepare('DELETE FROM logs WHERE seq IN (SELECT value FROM json_each(?))');
    const cleanup = startCleanup(this.db, {
      tenant,
      before,
      auditEventId: cause.auditEventId ?? null,
      by: cause.by ?? 'request',
      now: new Date(),
    });
    const limit = scope.limit ?? Number.POSITIVE_INFINITY;
    const parameters = {
      tenant,
      ...(before === null ? {} : { before }),
      ...(severities === null ? {} : { severities: JSON.stringify(severities) }),
      ...(scope.keepAction === undefined ? {} : { keepAction: scope.keepAction }),
    };
    // Each slice leaves the rollups matching the events, and the record of which ids went, in one transaction.
    const slice = this.db.transaction((size: number) => {
      const rows = doomed.all({ ...parameters, limit: size }) as (RollupSource & {
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
        const size = Math.min(DELETE_BATCH, limit - deleted);
        if (size <= 0) return deleted;
        // IMMEDIATE: the slice reads the rows before it deletes them; taking the write lock first means
        // the writer thread's commits in between are waited for (busy_timeout), not an SQLITE_BUSY_SNAPSHOT.
        const changes = slice.immediate(size);
        deleted += changes;
        if (changes < size) return deleted;
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
