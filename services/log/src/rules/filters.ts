import { ValidationFailed } from '@logserver/shared/errors/catalogue';
import { type FilterQuery, LOG_FILTER_FIELDS, type LogFilter } from '@logserver/shared/schemas/log-query';
import type { Position, SortOrder } from '@logserver/shared/store/port';

const later = (a: string | undefined, b: string | undefined) => (a === undefined ? b : b === undefined || a > b ? a : b);
const earlier = (a: string | undefined, b: string | undefined) => (a === undefined ? b : b === undefined || a < b ? a : b);

/** Query parameters to a store filter. `timestamp=YYYY-MM-DD` is that UTC day, narrowed further by from/to. */
export function toLogFilter(query: FilterQuery): LogFilter {
  let { from, to } = query;
  if (query.timestamp !== undefined) {
    const dayStart = new Date(`${query.timestamp}T00:00:00Z`);
    const dayEnd = new Date(dayStart.getTime() + 86_400_000);
    from = later(from, dayStart.toISOString());
    to = earlier(to, dayEnd.toISOString());
  }
  const filter: LogFilter = Object.fromEntries(LOG_FILTER_FIELDS.map((field) => [field, query[field]]));
  return { ...filter, from, to };
}

/** A cursor is an opaque base64url token for a position and the order it was issued for. */
export function encodeCursor(position: Position, sort: SortOrder): string {
  return Buffer.from(JSON.stringify([position.timestamp, position.id, sort])).toString('base64url');
}

export function decodeCursor(cursor: string, sort: SortOrder): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 3 &&
      typeof value[0] === 'string' &&
      !Number.isNaN(Date.parse(value[0])) &&
      typeof value[1] === 'string' &&
      value[1].length <= 64 &&
      value[2] === sort
    ) {
      return { timestamp: value[0], id: value[1] };
    }
  } catch {
    // Fall through: any undecodable cursor is the same client error.
  }
  throw new ValidationFailed([
    { loc: ['query', 'cursor'], msg: `not a cursor this list issued for sort=${sort}; start again without one`, type: 'value_error' },
  ]);
}
