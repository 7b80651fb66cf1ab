import type { FeedListener, LocalLogFeed } from '../feed/port.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';

/**
 * The all-in-one feed: the worker and the stream share a process, so stored events are handed
 * over in memory instead of being read back from the store.
 */
export class InProcessLogFeed implements LocalLogFeed {
  private readonly listeners = new Map<string, Set<FeedListener>>();

  subscribe(tenant: TenantId, listener: FeedListener): () => void {
    let set = this.listeners.get(tenant);
    if (!set) {
      set = new Set();
      this.listeners.set(tenant, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenant);
    };
  }

  /** Tenants with at least one subscriber: a feed that polls asks only for these. */
  tenants(): string[] {
    return [...this.listeners.keys()];
  }

  publish(events: readonly LogEvent[]): void {
    for (const event of events) {
      const set = this.listeners.get(event.tenant_id);
      if (!set) continue;
      for (const listener of set) listener(event);
    }
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
