import type { AnalyticsInterval, AnalyticsStatsRequest, GroupableField } from '../analytics/port.js';
import { SEVERITIES } from '../schemas/log-event.js';
import { SEARCHED_COLUMNS } from '../store/filter.js';
import type { LogFilter } from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';

/** ISO 8601 (always UTC, from toISOString) to the text a DateTime64(3, 'UTC') parameter parses. */
export const toClickHouseTime = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
/** The engine's DateTime64 text back to ISO 8601. */
export const fromClickHouseTime = (text: string): string => `${text.slice(0, 10)}T${text.slice(11, 23)}Z`;

export interface Bound {
  sql: string;
  params: Record<string, unknown>;
}

/**
 * Filter to a WHERE clause. Column names come from this file; every value is a `{pN:Type}`
 * parameter that the engine binds, so a filter value can never change the statement.
 */
export function whereClause(tenant: TenantId, filter: LogFilter): Bound {
  const clauses = ['tenant_id = {tenant:String}'];
  const params: Record<string, unknown> = { tenant };
  let n = 0;
  const param = (type: string, value: unknown) => {
    const name = `p${n++}`;
    params[name] = value;
    return `{${name}:${type}}`;
  };
  for (const column of ['action', 'resource_type', 'resource_id', 'user_id', 'ip_address'] as const) {
    const value = filter[column];
    if (value !== undefined) clauses.push(`${column} = ${param('String', value)}`);
  }
  if (filter.severity !== undefined) clauses.push(`severity IN ${param('Array(String)', [...filter.severity])}`);
  if (filter.user_agent !== undefined) {
    // position() is a literal substring test: no pattern syntax, as the primary stores' instr().
    clauses.push(`position(lowerUTF8(coalesce(user_agent, '')), ${param('String', filter.user_agent.toLowerCase())}) > 0`);
  }
  if (filter.from !== undefined) clauses.push(`timestamp >= ${param("DateTime64(3, 'UTC')", toClickHouseTime(filter.from))}`);
  if (filter.to !== undefined) clauses.push(`timestamp < ${param("DateTime64(3, 'UTC')", toClickHouseTime(filter.to))}`);
  if (filter.search !== undefined) {
    const needle = param('String', filter.search.toLowerCase());
    clauses.push(`(${SEARCHED_COLUMNS.map((column) => `position(lowerUTF8(coalesce(${column}, '')), ${needle}) > 0`).join(' OR ')})`);
  }
  return { sql: clauses.join(' AND '), params };
}

/** Bucket starts as ISO text; weeks start on Monday (ISO 8601), all in UTC. */
const BUCKET: Record<AnalyticsInterval, string> = {
  minute: 'toStartOfMinute(timestamp)',
  hour: 'toStartOfHour(timestamp)',
  day: 'toStartOfDay(timestamp)',
  week: "toDateTime(toMonday(timestamp), 'UTC')",
  month: "toDateTime(toStartOfMonth(timestamp), 'UTC')",
};

/** A result row's bucket start `t` as the ISO text the API answers. */
const BUCKET_TEXT = "formatDateTime(t, '%Y-%m-%dT%H:%i:%S.000Z', 'UTC')";

const groupColumn = (field: GroupableField): string => `coalesce(${field}, '')`;

/**
 * The stats statement: counts per group (and bucket) of the tenant's matching events, FINAL so a
 * row written twice counts once. With top=N, only the N first-field values with the most events.
 * The inner query groups by the bucket's DateTime; only its result rows (a few hundred, not the
 * millions read) are formatted as ISO text: formatting every row first cost most of the query.
 */
export function statsStatement(db: string, tenant: TenantId, filter: LogFilter, request: AnalyticsStatsRequest): Bound {
  if (request.interval !== undefined && request.top === undefined && request.groupBy.length === 1 && request.groupBy[0] === 'severity')
    return severityBucketsStatement(db, tenant, filter, request.interval, request.maxCells);
  const where = whereClause(tenant, filter);
  const keys = request.groupBy.map((field, index) => `${groupColumn(field)} AS k${index}`);
  const groupNames = request.groupBy.map((_field, index) => `k${index}`);
  const inner = request.interval === undefined ? keys : [...keys, `${BUCKET[request.interval]} AS t`];
  const bucket = request.interval === undefined ? "''" : BUCKET_TEXT;
  const first = groupColumn(request.groupBy[0]);
  const params = { ...where.params };
  let topClause = '';
  if (request.top !== undefined) {
    params.top = request.top;
    topClause = ` AND ${first} IN (SELECT ${first} FROM ${db}.logs FINAL WHERE ${where.sql} GROUP BY ${first} ORDER BY count() DESC, ${first} ASC LIMIT {top:UInt32})`;
  }
  // One row past the bound is read, so an answer too large is told from one that just fits.
  params.cells = request.maxCells + 1;
  const innerGroup = request.interval === undefined ? groupNames : [...groupNames, 't'];
  const counts = `SELECT ${inner.join(', ')}, count() AS n FROM ${db}.logs FINAL WHERE ${where.sql}${topClause} GROUP BY ${innerGroup.join(', ')}`;
  const sql = `SELECT ${groupNames.join(', ')}, ${bucket} AS b, n FROM (${counts}) ORDER BY b, ${groupNames.join(', ')} LIMIT {cells:UInt32}`;
  return { sql, params };
}

/**
 * The dashboard's form (count by severity per bucket, the seed's query and the console's chart) as
 * one count per severity in each bucket, unpivoted: the same rows, in the same order, as the
 * general statement, for about two thirds of its CPU (grouping by the bucket alone instead of by
 * severity and bucket: 212–220 ms against 332–333 ms a query over 4.9 M rows, docs/analytics.md).
 * The severities are the event schema's four, the only values a stored event can carry (every
 * event is validated against that enum before it is stored, and the sink copies stored events);
 * each is a bound parameter.
 */
function severityBucketsStatement(db: string, tenant: TenantId, filter: LogFilter, interval: AnalyticsInterval, maxCells: number): Bound {
  const where = whereClause(tenant, filter);
  const params: Record<string, unknown> = { ...where.params, severities: [...SEVERITIES], cells: maxCells + 1 };
  const counts = SEVERITIES.map((severity, index) => {
    params[`s${index}`] = severity;
    return `countIf(severity = {s${index}:String})`;
  });
  const perBucket = `SELECT ${BUCKET[interval]} AS t, [${counts.join(', ')}] AS ns FROM ${db}.logs FINAL WHERE ${where.sql} GROUP BY t`;
  const sql = `SELECT k0, ${BUCKET_TEXT} AS b, n FROM (${perBucket})
    ARRAY JOIN ns AS n, {severities:Array(String)} AS k0 WHERE n > 0 ORDER BY b, k0 LIMIT {cells:UInt32}`;
  return { sql, params };
}

export function countStatement(db: string, tenant: TenantId, filter: LogFilter): Bound {
  const where = whereClause(tenant, filter);
  return { sql: `SELECT count() AS n FROM ${db}.logs FINAL WHERE ${where.sql}`, params: where.params };
}
