import { pipeline, Readable } from 'node:stream';
import { LogEvent } from '@logserver/shared/schemas/log-event';
import type { ExportFormat } from '@logserver/shared/schemas/log-query';
import type { EventText } from '@logserver/shared/store/port';
import { stringify } from 'csv-stringify';

/** CSV columns: the stored event's fields in the schema's order; nested objects travel as JSON text. */
export const CSV_COLUMNS = Object.keys(LogEvent.shape) as (keyof LogEvent)[];

export const EXPORT_MEDIA: Record<ExportFormat, { contentType: string; extension: string }> = {
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  json: { contentType: 'application/json; charset=utf-8', extension: 'json' },
};

/**
 * The export's text layers pass pages (arrays of many events or lines) from one to the next, not
 * single events: one promise per event in each layer was ~9.5 % of an export's CPU (#15). A page
 * is what the store read in one go, so it is held either way.
 */
export type Page<T> = readonly T[];

/** Events as JSON text, stringified one by one: what an export reads from a store without `exportText` (pages of one). */
export async function* eventTexts(events: AsyncIterable<LogEvent>): AsyncIterable<Page<EventText>> {
  for await (const event of events) yield [{ id: event.id, json: JSON.stringify(event) }];
}

export async function* ndjsonLines(texts: AsyncIterable<Page<EventText>>): AsyncIterable<Page<string>> {
  for await (const page of texts) yield page.map((text) => `${text.json}\n`);
}

async function* jsonArray(texts: AsyncIterable<Page<EventText>>): AsyncIterable<Page<string>> {
  let separator = '[';
  for await (const page of texts) {
    const pieces: string[] = [];
    for (const text of page) {
      pieces.push(`${separator}${text.json}`);
      separator = ',\n';
    }
    yield pieces;
  }
  yield [separator === '[' ? '[]\n' : ']\n'];
}

/**
 * How much text an export gathers before it hands the response a chunk. One chunk per line was one
 * stream write and one socket write per event: more than the lines' own serialisation (#15).
 */
export const EXPORT_CHUNK_CHARS = 16 * 1024;

/** The pages' pieces joined into chunks of at least EXPORT_CHUNK_CHARS (the last may be shorter); the bytes are the same. */
export async function* inChunks(pages: AsyncIterable<Page<string>>): AsyncIterable<string> {
  let chunk = '';
  for await (const page of pages) {
    for (const piece of page) {
      chunk += piece;
      if (chunk.length >= EXPORT_CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk !== '') yield chunk;
}

/** The JSON-object fields that flatten=true spreads into one dotted column per key. */
export const FLATTENED_FIELDS = ['before', 'after', 'metadata'] as const;
type FlattenedField = (typeof FLATTENED_FIELDS)[number];

/**
 * The most dotted columns one flattened export may have: the key set is held in memory while the
 * export runs (DESIGN §9), so it is bounded; a wider export is refused with what to do instead.
 */
export const MAX_FLATTENED_COLUMNS = 500;

/** Leaders that make a spreadsheet run a cell as a formula (OWASP "CSV Injection"): = + - @ tab CR. */
const FORMULA_LEADER = /^[=+\-@\t\r]/;

/** OWASP's advice: a cell that starts like a formula gets a leading single quote, so it shows as text. */
export function defuseFormula(cell: string): string {
  return FORMULA_LEADER.test(cell) ? `'${cell}` : cell;
}

/** `{a: {b: 1}, c: [2]}` under `after` to `after.a.b` = 1 and `after.c` = "[2]": keys never contain a dot. */
export function flattenObject(prefix: string, value: unknown, into: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) into[prefix] = '{}';
    for (const [key, inner] of entries) flattenObject(`${prefix}.${key}`, inner, into);
  } else {
    into[prefix] = value;
  }
  return into;
}

/** A flattened row: the plain fields as they are, each object field spread into its dotted keys. */
function flattenEvent(event: LogEvent): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const column of CSV_COLUMNS) {
    const value = event[column];
    if ((FLATTENED_FIELDS as readonly string[]).includes(column)) {
      if (value !== null && value !== undefined) flattenObject(column as FlattenedField, value, row);
    } else {
      row[column] = value;
    }
  }
  return row;
}

export interface CsvOptions {
  /** Keep every cell exactly as stored (no formula defusing). */
  raw: boolean;
  /** Start with a UTF-8 byte order mark. */
  bom: boolean;
  /** The dotted columns found by a first pass (`flattenedColumns`), or undefined for JSON-text objects. */
  flattened?: string[] | undefined;
  /** Events carry their stream cursor (a commit-order export): it is the last column. */
  cursor?: boolean | undefined;
}

/** The column a flattened export adds last: keys first seen after the first pass, as JSON text (normally empty). */
export const LATE_KEYS_COLUMN = 'other_keys';

/**
 * The dotted columns of a flattened export, read in a first pass over the same events (memory:
 * the key set only, at most MAX_FLATTENED_COLUMNS). Returns null when there are more.
 */
export async function flattenedColumns(events: AsyncIterable<LogEvent>): Promise<string[] | null> {
  const keys = new Set<string>();
  for await (const event of events) {
    for (const field of FLATTENED_FIELDS) {
      if (event[field] === null || event[field] === undefined) continue;
      for (const key of Object.keys(flattenObject(field, event[field]))) {
        keys.add(key);
        if (keys.size > MAX_FLATTENED_COLUMNS) return null;
      }
    }
  }
  const order = (key: string) => FLATTENED_FIELDS.indexOf(key.split('.')[0] as FlattenedField);
  return [...keys].sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function csvColumns(options: CsvOptions): string[] {
  const columns = options.flattened
    ? [...CSV_COLUMNS.filter((column) => !(FLATTENED_FIELDS as readonly string[]).includes(column)), ...options.flattened, LATE_KEYS_COLUMN]
    : CSV_COLUMNS;
  return options.cursor ? [...columns, 'cursor'] : columns;
}

async function* csvRows(events: AsyncIterable<LogEvent>, options: CsvOptions): AsyncIterable<Record<string, unknown>> {
  const known = new Set(options.flattened ?? []);
  for await (const event of events) {
    if (!options.flattened) {
      yield event;
      continue;
    }
    const row = flattenEvent(event);
    // An event stored between the two passes may bring a key the header lacks: it is kept, as JSON text.
    const late: Record<string, unknown> = {};
    for (const key of Object.keys(row)) {
      if (key.includes('.') && !known.has(key)) late[key] = row[key];
    }
    if (Object.keys(late).length > 0) row[LATE_KEYS_COLUMN] = JSON.stringify(late);
    if (options.cursor) row.cursor = (event as LogEvent & { cursor?: string }).cursor;
    yield row;
  }
}

/**
 * Bytes read ahead of a client that is slow to take them. Counted in bytes, not in events: sixteen
 * events of 48 KiB (the object mode default) held 0.8 MiB per stalled export.
 */
export const EXPORT_READ_AHEAD_BYTES = 64 * 1024;

/** A body stream of text chunks that pulls only as fast as the client reads (EXPORT_READ_AHEAD_BYTES ahead). */
export function textBody(pieces: AsyncIterable<Page<string>>): Readable {
  return Readable.from(inChunks(pieces), { objectMode: false, highWaterMark: EXPORT_READ_AHEAD_BYTES });
}

/**
 * The NDJSON or JSON-array export body from the events' JSON text, as a stream that pulls events only
 * as fast as the client reads, so memory stays flat however many events match.
 */
export function encodeJsonExport(format: 'ndjson' | 'json', texts: AsyncIterable<Page<EventText>>): Readable {
  return textBody(format === 'ndjson' ? ndjsonLines(texts) : jsonArray(texts));
}

/**
 * The CSV export body, pulled as the client reads like encodeJsonExport's: RFC 4180, a header row,
 * CRLF line ends, quotes where needed, formula leaders defused unless raw.
 */
export function encodeCsvExport(
  events: AsyncIterable<LogEvent>,
  onError: (error: Error) => void,
  csvOptions: CsvOptions = { raw: false, bom: false },
): Readable {
  const text = csvOptions.raw ? (value: string) => value : defuseFormula;
  const csv = stringify({
    header: true,
    bom: csvOptions.bom,
    columns: csvColumns(csvOptions),
    record_delimiter: 'windows',
    cast: {
      string: (value) => text(value),
      object: (value) => text(JSON.stringify(value)),
      number: (value) => String(value),
      boolean: (value) => String(value),
    },
  });
  // pipeline, not pipe: an aborted download or a failing read tears down both ends and is reported once.
  // One row at a time into the CSV encoder, whose own output buffer is counted in bytes.
  return pipeline(Readable.from(csvRows(events, csvOptions), { highWaterMark: 1 }), csv, (error) => {
    if (error) onError(error);
  });
}

/**
 * Passes the items (events, or pages of them) through, then awaits `record` with how many events
 * were read (`events` of each item: 1 for an event, its length for a page) and whether reading finished.
 */
export async function* countThenRecord<T>(
  items: AsyncIterable<T>,
  record: (count: number, completed: boolean) => Promise<void>,
  events: (item: T) => number = () => 1,
): AsyncIterable<T> {
  let count = 0;
  let completed = false;
  try {
    for await (const item of items) {
      count += events(item);
      yield item;
    }
    completed = true;
  } finally {
    await record(count, completed);
  }
}

/** `logs-<tenant>-<UTC time>.<ext>`: tenant keys are [a-z0-9_-], so the name needs no quoting rules. */
export function exportFileName(tenant: string, format: ExportFormat, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `logs-${tenant}-${stamp}.${EXPORT_MEDIA[format].extension}`;
}
