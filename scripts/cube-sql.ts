import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Cube's schema compiler cannot be installed here (its native module's install step downloads a
 * binary), so this renders the subset of Cube queries the dashboard uses (count, string dimensions,
 * one time dimension with a granularity and a date range, `equals` filters) into SQL the way Cube's
 * ClickHouse dialect writes it, from the model file's own definitions: the cube's `sql`, each
 * member's `sql`. Running that SQL on the real engine tests the model, not a copy of it.
 */
export interface CubeQuery {
  measures: string[];
  dimensions?: string[];
  timeDimensions?: { dimension: string; granularity?: 'day' | 'hour' | 'week' | 'month'; dateRange?: string | [string, string] }[];
  filters?: { member: string; operator: 'equals'; values: string[] }[];
}

interface Member {
  name: string;
  sql?: string;
  type: string;
}

interface CubeModel {
  name: string;
  sql: string;
  measures: Member[];
  dimensions: Member[];
}

export function loadModel(path: string): CubeModel {
  const parsed = parse(readFileSync(path, 'utf8')) as { cubes: CubeModel[] };
  const [cube] = parsed.cubes;
  if (!cube) throw new Error(`${path} defines no cube`);
  return cube;
}

const GRANULARITY: Record<string, string> = {
  hour: 'toStartOfHour',
  day: 'toStartOfDay',
  week: 'toMonday',
  month: 'toStartOfMonth',
};

/** Cube's relative ranges: "last N days" runs from the start of the day N days ago to the end of yesterday (UTC). */
export function dateRangeOf(range: string | [string, string], now: Date): [string, string] {
  if (Array.isArray(range)) return range;
  const match = /^last (\d+) days$/.exec(range);
  if (!match) throw new Error(`unsupported dateRange ${range}`);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const start = new Date(today - Number(match[1]) * 86_400_000).toISOString().slice(0, 23);
  const end = new Date(today - 1).toISOString().slice(0, 23);
  return [start, end];
}

export function compileCubeQuery(
  model: CubeModel,
  query: CubeQuery,
  now: Date,
): { sql: string; params: Record<string, unknown>; aliases: string[] } {
  const member = (path: string, list: Member[]) => {
    const [cube, name] = path.split('.');
    const found = list.find((m) => m.name === name);
    if (cube !== model.name || !found) throw new Error(`${path} is not in the model`);
    return found;
  };
  const column = (m: Member) => `\`${model.name}\`.${m.sql ?? m.name}`;
  const select: string[] = [];
  const groupBy: string[] = [];
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  let n = 0;
  const param = (value: unknown) => {
    const name = `p${n++}`;
    params[name] = value;
    return `{${name}:String}`;
  };
  const aliases: string[] = [];
  for (const path of query.dimensions ?? []) {
    const alias = `\`${path.replace('.', '__')}\``;
    select.push(`${column(member(path, model.dimensions))} ${alias}`);
    groupBy.push(alias);
    aliases.push(path.replace('.', '__'));
  }
  for (const time of query.timeDimensions ?? []) {
    const m = member(time.dimension, model.dimensions);
    if (time.granularity) {
      const alias = `\`${time.dimension.replace('.', '__')}_${time.granularity}\``;
      select.push(`toDateTime(${GRANULARITY[time.granularity]}(toTimeZone(${column(m)}, 'UTC')), 'UTC') ${alias}`);
      groupBy.push(alias);
      aliases.push(`${time.dimension.replace('.', '__')}_${time.granularity}`);
    }
    if (time.dateRange) {
      const [from, to] = dateRangeOf(time.dateRange, now);
      where.push(
        `${column(m)} >= parseDateTime64BestEffort(${param(from)}, 3, 'UTC') AND ${column(m)} <= parseDateTime64BestEffort(${param(to)}, 3, 'UTC')`,
      );
    }
  }
  for (const path of query.measures) {
    const m = member(path, model.measures);
    if (m.type !== 'count') throw new Error(`measure type ${m.type} is not rendered here`);
    select.push(`count(*) \`${path.replace('.', '__')}\``);
    aliases.push(path.replace('.', '__'));
  }
  for (const filter of query.filters ?? []) {
    const m = member(filter.member, model.dimensions);
    where.push(`(${filter.values.map((value) => `${column(m)} = ${param(value)}`).join(' OR ')})`);
  }
  const sql = [
    `SELECT ${select.join(', ')}`,
    `FROM (${model.sql}) AS \`${model.name}\``,
    where.length > 0 ? `WHERE ${where.map((clause) => `(${clause})`).join(' AND ')}` : '',
    groupBy.length > 0 ? `GROUP BY ${groupBy.join(', ')}` : '',
    groupBy.length > 0 ? `ORDER BY ${groupBy.at(-1)} ASC` : '',
    'LIMIT 10000',
  ]
    .filter(Boolean)
    .join('\n');
  return { sql, params, aliases };
}
