import { Readable } from 'node:stream';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { ClickHouseDriver, ClickHouseSettings } from './driver.js';

export interface ClickHouseServerSettings {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Requests in flight to the server from this process (DESIGN §9: the per-process bound). */
  maxOpenConnections: number;
  requestTimeoutMs: number;
}

/** A ClickHouse server over HTTP (@clickhouse/client): query parameters travel as `param_*`, bound by the server. */
export class ClickHouseClientDriver implements ClickHouseDriver {
  private readonly client: ClickHouseClient;

  constructor(settings: ClickHouseServerSettings) {
    this.client = createClient({
      url: settings.url,
      username: settings.username ?? 'default',
      password: settings.password ?? '',
      application: 'logserver',
      max_open_connections: settings.maxOpenConnections,
      request_timeout: settings.requestTimeoutMs,
      // The sink's inserts are retried from its checkpoint, never by the client: an insert is sent once.
      compression: { request: false, response: false },
    });
  }

  async query<T>(sql: string, params: Record<string, unknown>, settings?: ClickHouseSettings): Promise<T[]> {
    const result = await this.client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: settings });
    return result.json<T>();
  }

  async command(sql: string, params: Record<string, unknown> = {}, settings?: ClickHouseSettings): Promise<void> {
    // wait_end_of_query: the answer comes once the statement has taken effect, not when it was accepted.
    await this.client.command({ query: sql, query_params: params, clickhouse_settings: { wait_end_of_query: 1, ...settings } });
  }

  async insert(table: string, columns: readonly string[], payload: Buffer, settings?: ClickHouseSettings): Promise<void> {
    if (payload.length === 0) return;
    // A raw format travels as a stream of its bytes: the client sends them as they are.
    await this.client.insert({
      table,
      columns: columns as [string, ...string[]],
      values: Readable.from([payload], { objectMode: false }),
      format: 'TabSeparated',
      clickhouse_settings: settings,
    });
  }

  async ping(): Promise<void> {
    const result = await this.client.ping();
    if (!result.success) throw result.error;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
