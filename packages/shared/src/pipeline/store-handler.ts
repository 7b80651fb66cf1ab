import type { LocalLogFeed } from '../feed/port.js';
import type { BatchHandler } from '../queue/port.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { LogStore } from '../store/port.js';
import { tenantOf } from '../store/tenant-id.js';

/** What the worker has done since it started; the Python system's /stats answered the first three. */
export interface WorkerStats {
  messages_received: number;
  messages_failed: number;
  last_received_at: string | null;
  events_stored: number;
  events_duplicate: number;
}

export interface StoreHandler {
  handle: BatchHandler;
  stats: WorkerStats;
}

/**
 * Stores each delivered batch, one transaction per tenant. A redelivered event is a duplicate,
 * not a second copy. When the stream shares the process, its feed is told to read the new events at once.
 */
export function createStoreHandler(store: LogStore, feed?: LocalLogFeed): StoreHandler {
  const stats: WorkerStats = { messages_received: 0, messages_failed: 0, last_received_at: null, events_stored: 0, events_duplicate: 0 };
  const handle: BatchHandler = async (events) => {
    stats.messages_received++;
    stats.last_received_at = new Date().toISOString();
    const byTenant = new Map<string, LogEvent[]>();
    for (const event of events) {
      const list = byTenant.get(event.tenant_id);
      if (list) list.push(event);
      else byTenant.set(event.tenant_id, [event]);
    }
    try {
      for (const [tenant, batch] of byTenant) {
        const result = await store.append(tenantOf({ tenant }), batch);
        stats.events_stored += result.inserted.length;
        stats.events_duplicate += result.duplicates;
        if (result.inserted.length > 0) feed?.committed(result.inserted);
      }
    } catch (error) {
      stats.messages_failed++;
      throw error;
    }
  };
  return { handle, stats };
}
