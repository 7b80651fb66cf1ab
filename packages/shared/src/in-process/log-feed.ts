import type { CommittedEvent, FeedListener, LogFeed } from '../feed/port.js';
import type { TenantId } from '../store/tenant-id.js';

/**
 * Hands committed events to their tenant's listeners in this process. The feeds that read the
 * store (SQLite, MongoDB) use it for their fan-out; tests use it alone, publishing positions themselves.
 */
export class InProcessLogFeed implements LogFeed {
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

  /** Hands each entry to its tenant's listeners; the caller gives them in commit order. */
  publish(entries: readonly CommittedEvent[]): void {
    for (const { event, position } of entries) {
      const set = this.listeners.get(event.tenant_id);
      if (!set) continue;
      for (const listener of set) listener(event, position);
    }
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
