import type { LogEvent } from '@logserver/shared/schemas/log-event';

/** The part of a better-sqlite3 connection this needs (the tests open the file themselves, as an attacker would). */
interface RawDatabase {
  prepare(sql: string): { run(...values: unknown[]): unknown };
}

/**
 * What a writer with the SQLite file can do: put an event straight into the logs table at `seq`,
 * bypassing the store (no rollups, no feed). The tamper suites use it for inserted and backdated rows.
 */
export function insertForgedRow(raw: RawDatabase, seq: number, event: LogEvent): void {
  raw
    .prepare(
      `INSERT INTO logs (seq, id, tenant_id, user_id, action, resource_type, resource_id, ts, received_at, severity, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      seq,
      event.id,
      event.tenant_id,
      event.user_id,
      event.action,
      event.resource_type,
      event.resource_id,
      event.timestamp,
      event.received_at,
      event.severity,
      event.hash,
    );
}
