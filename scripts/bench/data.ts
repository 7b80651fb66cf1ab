import type { LogEvent, LogEventInput } from '@logserver/shared/schemas/log-event';
import { inputToEvent } from '@logserver/shared/schemas/log-event';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { SqliteTenantStore } from '@logserver/shared/sqlite/tenant-store';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { makeEvent, seededRandom } from '@logserver/testing/events';
import { v7 as uuidv7 } from 'uuid';

/** The event from the Python system's README, as its curl example posts it. */
export { PYTHON_EVENT } from '@logserver/testing/events';

/** What a client would send for a stored-shape event: the fields the server adds are left out, nulls omitted. */
function toInput(event: LogEvent): LogEventInput {
  const input: Record<string, unknown> = {
    action: event.action,
    resource_type: event.resource_type,
    timestamp: event.timestamp,
    severity: event.severity,
  };
  for (const key of ['resource_id', 'ip_address', 'user_agent', 'before', 'after', 'metadata'] as const) {
    if (event[key] !== null) input[key] = event[key];
  }
  return input as LogEventInput;
}

/** `count` varied client events, the same for a given seed. */
export function eventInputs(count: number, seed: number): LogEventInput[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => toInput(makeEvent('bench', {}, random)));
}

const LOAD_BATCH = 50_000;
/** The large tenant's events span 90 days from 2025-01-01, as makeEvent's do. */
export const LOAD_START_MS = Date.UTC(2025, 0, 1);
const LOAD_SPAN_MS = 90 * 86_400_000;

/**
 * Fills one tenant before the server starts, through SqliteLogStore itself (so whatever the store
 * keeps beside the rows, such as rollups, is kept too), in transactions of 50 000 events.
 */
export async function loadTenant(sqlitePath: string, tenant: string, count: number): Promise<number> {
  // AUTH_REQUIRE_REGISTERED_TENANT is on (#13) and a tenant key that has events cannot be created
  // any more: the tenant is registered in the file first, as if POST /api/v1/tenants had made it.
  // Without this scenarios 4 to 6 were refused 401.
  const tenants = SqliteTenantStore.open(sqlitePath);
  await tenants.create({ key: tenant, name: tenant });
  await tenants.close();
  const started = performance.now();
  const store = SqliteLogStore.open(sqlitePath);
  const random = seededRandom(42);
  // Timestamps rise with the position, as events arrive in time order: the time-ordered indexes
  // then grow at their end instead of at random pages, which is what makes 1 000 000 events quick to load.
  const step = LOAD_SPAN_MS / count;
  const at = (index: number) => new Date(LOAD_START_MS + Math.floor(index * step)).toISOString();
  try {
    for (let done = 0; done < count; done += LOAD_BATCH) {
      const batch = Array.from({ length: Math.min(LOAD_BATCH, count - done) }, (_, offset) => {
        const timestamp = at(done + offset);
        return makeEvent(tenant, { timestamp, received_at: timestamp }, random);
      });
      await store.append(tenantOf({ tenant }), batch);
    }
  } finally {
    await store.close();
  }
  return (performance.now() - started) / 1000;
}

const COLUMNS =
  'id, tenant_id, user_id, action, resource_type, resource_id, ts, received_at, ip_address, user_agent, severity, before, after, metadata';

const json = (value: object | null): string | null => (value === null ? null : JSON.stringify(value));

/**
 * Scenario 3's baseline: the same rows inserted with raw better-sqlite3 prepared statements, in
 * transactions of 500, into a fresh file with the store's own schema and pragmas (WAL, synchronous=FULL).
 * Returns rows per second.
 */
export async function rawInsertRowsPerSecond(sqlitePath: string, inputs: readonly LogEventInput[], batches: number): Promise<number> {
  await SqliteLogStore.open(sqlitePath).close();
  const db = openSqlite(sqlitePath);
  const insert = db.prepare(
    `INSERT INTO logs (${COLUMNS}) VALUES (${COLUMNS.split(', ')
      .map(() => '?')
      .join(', ')})`,
  );
  const actor = { tenant: 'bench-raw', sub: 'bench' };
  const started = performance.now();
  const commit = db.transaction((events: LogEvent[]) => {
    for (const e of events) {
      insert.run(
        e.id,
        e.tenant_id,
        e.user_id,
        e.action,
        e.resource_type,
        e.resource_id,
        e.timestamp,
        e.received_at,
        e.ip_address,
        e.user_agent,
        e.severity,
        json(e.before),
        json(e.after),
        json(e.metadata),
      );
    }
  });
  for (let batch = 0; batch < batches; batch++) {
    const now = new Date();
    commit(inputs.map((input) => inputToEvent(input, actor, uuidv7(), now)));
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return (batches * inputs.length) / seconds;
}
