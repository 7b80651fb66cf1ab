import { pipeline, Readable } from 'node:stream';
import { LogEvent } from '@logserver/shared/schemas/log-event';
import type { ExportFormat } from '@logserver/shared/schemas/log-query';
import { stringify } from 'csv-stringify';

/** CSV columns: the stored event's fields in the schema's order; nested objects travel as JSON text. */
export const CSV_COLUMNS = Object.keys(LogEvent.shape) as (keyof LogEvent)[];

export const EXPORT_MEDIA: Record<ExportFormat, { contentType: string; extension: string }> = {
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  json: { contentType: 'application/json; charset=utf-8', extension: 'json' },
};

async function* ndjson(events: AsyncIterable<LogEvent>): AsyncIterable<string> {
  for await (const event of events) yield `${JSON.stringify(event)}\n`;
}

async function* jsonArray(events: AsyncIterable<LogEvent>): AsyncIterable<string> {
  let separator = '[';
  for await (const event of events) {
    yield `${separator}${JSON.stringify(event)}`;
    separator = ',\n';
  }
  yield separator === '[' ? '[]\n' : ']\n';
}

/**
 * The export body as a stream that pulls events only as fast as the client reads, so memory stays
 * flat however many events match. CSV is RFC 4180: a header row, CRLF line ends, quotes where needed.
 */
export function encodeExport(
  format: ExportFormat,
  events: AsyncIterable<LogEvent>,
  onError: (error: Error) => void,
  /** Events carry their stream cursor (a commit-order export): CSV gets it as a last column. */
  options: { cursor?: boolean } = {},
): Readable {
  if (format === 'ndjson') return Readable.from(ndjson(events));
  if (format === 'json') return Readable.from(jsonArray(events));
  const csv = stringify({
    header: true,
    columns: options.cursor ? [...CSV_COLUMNS, 'cursor'] : CSV_COLUMNS,
    record_delimiter: 'windows',
    cast: { object: (value) => JSON.stringify(value) },
  });
  // pipeline, not pipe: an aborted download or a failing read tears down both ends and is reported once.
  return pipeline(Readable.from(events), csv, (error) => {
    if (error) onError(error);
  });
}

/** Passes the events through, then awaits `record` with how many were read and whether reading finished. */
export async function* countThenRecord<T>(
  events: AsyncIterable<T>,
  record: (count: number, completed: boolean) => Promise<void>,
): AsyncIterable<T> {
  let count = 0;
  let completed = false;
  try {
    for await (const event of events) {
      count++;
      yield event;
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
