/** Setting values are written by this module, never taken from a request. */
export type ClickHouseSettings = Record<string, number | string>;

/**
 * The narrow part of a ClickHouse connection the analytics store uses, so that the embedded engine
 * (chdb, in-process) and a server (@clickhouse/client over HTTP) run the very same SQL. Every value
 * travels as a query parameter (`{name:Type}` in the SQL, bound by the engine), never as SQL text.
 */
export interface ClickHouseDriver {
  /** Runs a SELECT and returns its rows (JSONEachRow). */
  query<T>(sql: string, params: Record<string, unknown>, settings?: ClickHouseSettings): Promise<T[]>;
  /** Runs a statement that returns no rows (DDL, DELETE). */
  command(sql: string, params?: Record<string, unknown>, settings?: ClickHouseSettings): Promise<void>;
  /**
   * Inserts rows into `table` (a name this module wrote): `payload` is the rows in the
   * TabSeparated format (tab-separated.ts), each the values of `columns` in order. The values are
   * data, never SQL text. An empty payload inserts nothing.
   */
  insert(table: string, columns: readonly string[], payload: Buffer, settings?: ClickHouseSettings): Promise<void>;
  /** Throws when the engine cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
