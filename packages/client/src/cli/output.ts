import type { LogEvent } from '../types.js';

const COLUMNS: [title: string, pick: (event: LogEvent) => string][] = [
  ['TIMESTAMP', (event) => event.timestamp],
  ['SEVERITY', (event) => event.severity],
  ['ACTION', (event) => event.action],
  ['RESOURCE', (event) => (event.resource_id ? `${event.resource_type}/${event.resource_id}` : event.resource_type)],
  ['USER', (event) => event.user_id],
  ['ID', (event) => event.id],
];

const MAX_CELL = 48;
const cell = (text: string) => (text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text);

/** Events as an aligned text table, one row each, under a header. */
export function table(events: readonly LogEvent[]): string {
  const rows = [COLUMNS.map(([title]) => title), ...events.map((event) => COLUMNS.map(([, pick]) => cell(pick(event))))];
  const widths = COLUMNS.map((_, index) => Math.max(...rows.map((row) => (row[index] as string).length)));
  return rows
    .map((row) =>
      row
        .map((text, index) => text.padEnd(widths[index] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One row as the table's, for `tail` (no header: rows arrive one at a time). */
export function row(event: LogEvent): string {
  return COLUMNS.map(([, pick]) => cell(pick(event))).join('  ');
}

/** Counts by group as two columns, or per bucket when the answer has an interval. */
export function statsTable(data: Record<string, unknown>): string {
  const entries = Object.entries(data).filter(([, value]) => typeof value === 'number');
  if (entries.length === 0) return JSON.stringify(data, null, 2);
  const width = Math.max(5, ...entries.map(([key]) => key.length));
  return [`${'GROUP'.padEnd(width)}  COUNT`, ...entries.map(([key, value]) => `${key.padEnd(width)}  ${value}`)].join('\n');
}
