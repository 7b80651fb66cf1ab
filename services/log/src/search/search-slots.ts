import { TooManySearches } from '@logserver/shared/errors/catalogue';
import { needsScan } from '@logserver/shared/store/filter';
import type { LogFilter } from '@logserver/shared/store/port';
import type { FastifyReply } from 'fastify';
import { ExportSlots } from '../export/export-slots.js';

/**
 * How many list and stats requests with `search` or `user_agent` one replica runs at once. Those
 * read every event of the tenant's time range (no index serves a substring); the store yields the
 * event loop between windows and stops each at its query timeout, and these caps keep one tenant's
 * burst from taking every turn of it: 40 concurrent searches of one tenant held another tenant's
 * POST for 6.4 s.
 */
export interface SearchLimits {
  /** Scanning requests one tenant may run at once on one replica; the next is a 429. */
  perTenant: number;
  /** Scanning requests of all tenants together on one replica. */
  perProcess: number;
}

/** 4 per tenant: the console's list, count and chart of one search run together, with one to spare. */
export const DEFAULT_SEARCH_LIMITS: SearchLimits = { perTenant: 4, perProcess: 16 };

/** Seconds a refused search is told to wait: scans end within the query timeout, most far sooner. */
const RETRY_AFTER_SECONDS = 1;

/** Admits scanning requests within the caps; any other filter passes without a slot. */
export class SearchSlots {
  private readonly slots: ExportSlots;

  constructor(private readonly limits: SearchLimits) {
    // The same counting as exports' (per tenant and in all, each slot given back once).
    this.slots = new ExportSlots(limits);
  }

  /** Runs `query` in a slot when the filter scans; a full tenant or process cap is a 429 with Retry-After. */
  async run<T>(tenant: string, filter: LogFilter, reply: FastifyReply, query: () => Promise<T>): Promise<T> {
    if (!needsScan(filter)) return query();
    const slot = this.slots.acquire(tenant);
    if ('refused' in slot) {
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      throw new TooManySearches(
        slot.refused === 'tenant' ? `for this tenant (${this.limits.perTenant})` : `on this server (${this.limits.perProcess})`,
      );
    }
    try {
      return await query();
    } finally {
      slot.release();
    }
  }
}
