import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';

/** The driver shape of @logserver/shared's clickhouse/driver.ts, restated so this package needs nothing else. */
export interface ChdbDriver {
  query<T>(sql: string, params: Record<string, unknown>, settings?: Record<string, number | string>): Promise<T[]>;
  command(sql: string, params?: Record<string, unknown>, settings?: Record<string, number | string>): Promise<void>;
  insert(table: string, columns: readonly string[], payload: Buffer, settings?: Record<string, number | string>): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** chdb opens one data directory per process: every driver on the same path shares its session. */
let shared: { path: string; session: Session; users: number } | null = null;

const withSettings = (sql: string, settings: Record<string, number | string> | undefined): string => {
  if (settings === undefined) return sql;
  // Setting names and values come from the analytics store's own constants, never from a request.
  const list = Object.entries(settings).map(([name, value]) => `${name} = ${typeof value === 'number' ? value : `'${value}'`}`);
  return list.length === 0 ? sql : `${sql} SETTINGS ${list.join(', ')}`;
};

/**
 * The embedded ClickHouse engine (chdb) behind the analytics store's driver interface. Queries run
 * with queryBindAsync: values bound by the engine, off the event loop, so a long aggregation never
 * stalls ingest in the same process.
 */
export function openChdbDriver(path: string): ChdbDriver {
  if (shared !== null && shared.path !== path) {
    throw new Error(`chdb already has ${shared.path} open in this process; CHDB_PATH=${path} needs a process of its own`);
  }
  shared ??= { path, session: new Session(path), users: 0 };
  shared.users++;
  const { session } = shared;
  let closed = false;
  return {
    async query<T>(sql: string, params: Record<string, unknown>, settings?: Record<string, number | string>): Promise<T[]> {
      const result = await session.queryBindAsync(withSettings(sql, settings), params, { format: 'JSONEachRow' });
      const text = result.text();
      return text === ''
        ? []
        : (text
            .trimEnd()
            .split('\n')
            .map((line) => JSON.parse(line)) as T[]);
    },
    async command(sql: string, params: Record<string, unknown> = {}, settings?: Record<string, number | string>): Promise<void> {
      await session.queryBindAsync(withSettings(sql, settings), params, { format: 'TSV' });
    },
    async insert(table: string, columns: readonly string[], payload: Buffer, settings?: Record<string, number | string>): Promise<void> {
      if (payload.length === 0) return;
      // Through a file the engine reads (INSERT … SELECT FROM file()), not chdb's raw insert: the
      // raw insert cost 0.75–0.9 s of CPU per 100 000 rows whatever the format, even into a Null
      // table; reading the same TabSeparated rows from a file 0.25–0.35 s (docs/benchmarks.md).
      // The file's columns take the types of the table's (use_structure_from_insertion_table_in_table_functions).
      // It is private to this process (0600), removed once read; its path is a parameter.
      const file = join(tmpdir(), `logserver-chdb-insert-${randomUUID()}.tsv`);
      await writeFile(file, payload, { mode: 0o600 });
      try {
        await session.queryBindAsync(
          withSettings(`INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM file({file:String}, 'TabSeparated')`, settings),
          { file },
          { format: 'TSV' },
        );
      } finally {
        await rm(file, { force: true });
      }
    },
    async ping(): Promise<void> {
      if (closed || !session.open) throw new Error('the embedded analytics engine is closed');
      await session.queryAsync('SELECT 1', { format: 'TSV' });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (shared !== null && --shared.users === 0) {
        shared.session.close();
        shared = null;
      }
    },
  };
}
