import type { AnalyticsStatsRequest, AnalyticsStatsResult, AnalyticsStore, PositionedEvent, SinkCheckpoint } from '../analytics/port.js';
import { ValidationFailed } from '../errors/catalogue.js';
import type { LogFilter } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import type { ClickHouseDriver, ClickHouseSettings } from './driver.js';
import { assertDatabaseName, schemaStatements } from './schema.js';
import { countStatement, fromClickHouseTime, statsStatement, toClickHouseTime } from './sql.js';
import { type TsvValue, tabSeparated, tsvField } from './tab-separated.js';

export interface ClickHouseQueryLimits {
  /** Seconds one stats query may run before the engine stops it. */
  maxExecutionSeconds: number;
  /** Bytes one stats query may hold. */
  maxMemoryBytes: number;
}

export const DEFAULT_QUERY_LIMITS: ClickHouseQueryLimits = { maxExecutionSeconds: 10, maxMemoryBytes: 1024 ** 3 };

/** Ids per DELETE statement: a cleanup of millions is applied in statements of this many (each id travels in the URL, as a query parameter). */
const DELETE_BATCH = 2000;
/** A JSON column as TabSeparated: JSON text has no raw tab or newline, only backslashes to double. */
const jsonField = (value: object | null): string => (value === null ? '\\N' : tsvField(JSON.stringify(value)));
/** The logs table's columns, in the order insert() gives each row's values. */
const LOG_COLUMNS = [
  'tenant_id',
  'timestamp',
  'id',
  'position',
  'received_at',
  'user_id',
  'action',
  'resource_type',
  'resource_id',
  'ip_address',
  'user_agent',
  'severity',
  'before',
  'after',
  'metadata',
] as const;

/** The events as TabSeparated rows of LOG_COLUMNS, written straight from the events (no row arrays between). */
function logRowsTsv(events: readonly PositionedEvent[]): Buffer {
  const lines: string[] = new Array(events.length);
  for (let index = 0; index < events.length; index++) {
    const { position, event } = events[index] as PositionedEvent;
    lines[index] =
      `${tsvField(event.tenant_id)}\t${toClickHouseTime(event.timestamp)}\t${tsvField(event.id)}\t${tsvField(position)}\t` +
      `${toClickHouseTime(event.received_at)}\t${tsvField(event.user_id)}\t${tsvField(event.action)}\t${tsvField(event.resource_type)}\t` +
      `${tsvField(event.resource_id)}\t${tsvField(event.ip_address)}\t${tsvField(event.user_agent)}\t${tsvField(event.severity)}\t` +
      `${jsonField(event.before)}\t${jsonField(event.after)}\t${jsonField(event.metadata)}\n`;
  }
  return Buffer.from(lines.join(''));
}

/**
 * AnalyticsStore on ClickHouse, the same SQL on the embedded engine (chdb) and on a server
 * (@clickhouse/client): the driver is the only difference.
 */
export class ClickHouseAnalyticsStore implements AnalyticsStore {
  private readonly db: string;

  constructor(
    private readonly driver: ClickHouseDriver,
    database: string,
    private readonly limits: ClickHouseQueryLimits = DEFAULT_QUERY_LIMITS,
  ) {
    this.db = assertDatabaseName(database);
  }

  async migrate(): Promise<void> {
    for (const statement of schemaStatements(this.db)) await this.driver.command(statement);
  }

  async insert(events: readonly PositionedEvent[]): Promise<void> {
    if (events.length === 0) return;
    // optimize_on_insert = 0: the engine does not collapse the batch's duplicates as it writes
    // (a merge pass that doubled the insert's time); reads say FINAL, so a row written twice
    // still counts once, before and after the merges. async_insert = 0: the batch is written as
    // it is, not copied into the engine's insert queue first (chdb turns async inserts on).
    await this.driver.insert(`${this.db}.logs`, LOG_COLUMNS, logRowsTsv(events), { optimize_on_insert: 0, async_insert: 0 });
  }

  /**
   * Merges the logs table's parts into one a partition (OPTIMIZE … FINAL): the operator's step
   * after a bulk load (scripts/gen-data does it). A bulk load leaves parts that each span the whole
   * time range, and FINAL then merges them on every read (4–6× a plain read, docs/analytics.md);
   * once merged, a partition of one part is read without that. The sink's own small inserts are
   * time-ordered, and the engine's background merges fold them. Rewrites the table: minutes at
   * 10 000 000 rows.
   */
  async mergeParts(): Promise<void> {
    await this.driver.command(`OPTIMIZE TABLE ${this.db}.logs FINAL`);
  }

  async deleteIds(tenant: TenantId, ids: readonly string[]): Promise<void> {
    for (let start = 0; start < ids.length; start += DELETE_BATCH) {
      const slice = ids.slice(start, start + DELETE_BATCH);
      // A lightweight delete: the rows vanish from every read at once, the parts are rewritten later.
      await this.driver.command(`DELETE FROM ${this.db}.logs WHERE tenant_id = {tenant:String} AND id IN {ids:Array(String)}`, {
        tenant,
        ids: slice,
      });
    }
  }

  async loadCheckpoint(): Promise<SinkCheckpoint> {
    const rows = await this.driver.query<{ name: string; version: string | number; at: string }>(
      `SELECT name, version, toString(at) AS at FROM ${this.db}.sink_checkpoints FINAL`,
      {},
    );
    const events = rows.find((row) => row.name === 'events');
    const cleanups = rows.find((row) => row.name === 'cleanups');
    return {
      position: events ? String(events.version) : null,
      cleanupId: cleanups ? Number(cleanups.version) : 0,
      caughtUpAt: events ? fromClickHouseTime(events.at) : null,
    };
  }

  async saveCheckpoint(checkpoint: SinkCheckpoint): Promise<void> {
    const at = toClickHouseTime(checkpoint.caughtUpAt ?? new Date(0).toISOString());
    const rows: TsvValue[][] = [['cleanups', checkpoint.cleanupId, at]];
    if (checkpoint.position !== null) rows.push(['events', checkpoint.position, at]);
    await this.driver.insert(`${this.db}.sink_checkpoints`, ['name', 'version', 'at'], tabSeparated(rows));
  }

  async stats(tenant: TenantId, filter: LogFilter, request: AnalyticsStatsRequest): Promise<AnalyticsStatsResult> {
    const statement = statsStatement(this.db, tenant, filter, request);
    const rows = await this.driver.query<Record<string, string | number>>(statement.sql, statement.params, this.settings());
    if (rows.length > request.maxCells) {
      throw new ValidationFailed([
        {
          loc: ['query', 'interval'],
          msg: `more than ${request.maxCells} counts (groups × buckets): use top=N, a coarser interval or a narrower from/to`,
          type: 'value_error',
        },
      ]);
    }
    const groups = new Set<string>();
    const counts = rows.map((row) => {
      const keys = request.groupBy.map((_field, index) => String(row[`k${index}`]));
      groups.add(JSON.stringify(keys));
      return { keys, bucket: row.b === '' ? null : String(row.b), n: Number(row.n) };
    });
    if (groups.size > request.maxGroups) {
      throw new ValidationFailed([
        {
          loc: ['query', 'group_by'],
          msg: `more than ${request.maxGroups} groups: add top=N (at most ${request.maxGroups}) or narrow the filters`,
          type: 'value_error',
        },
      ]);
    }
    let others = 0;
    if (request.top !== undefined) {
      const all = countStatement(this.db, tenant, filter);
      const [total] = await this.driver.query<{ n: string | number }>(all.sql, all.params, this.settings());
      others = Number(total?.n ?? 0) - counts.reduce((sum, count) => sum + count.n, 0);
    }
    return { counts, others };
  }

  async count(tenant: TenantId, filter: LogFilter): Promise<number> {
    const statement = countStatement(this.db, tenant, filter);
    const [row] = await this.driver.query<{ n: string | number }>(statement.sql, statement.params, this.settings());
    return Number(row?.n ?? 0);
  }

  /**
   * What one query may hold (DESIGN §9): the engine stops it past the time or memory bound, and a
   * GROUP BY past its row bound, so no tenant's query can take the analytics tier from the others.
   */
  private settings(): ClickHouseSettings {
    return {
      max_execution_time: this.limits.maxExecutionSeconds,
      max_memory_usage: this.limits.maxMemoryBytes,
      max_rows_to_group_by: 1_000_000,
      group_by_overflow_mode: 'throw',
    };
  }

  async ping(): Promise<void> {
    await this.driver.ping();
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}
