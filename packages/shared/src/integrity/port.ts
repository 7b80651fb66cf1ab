import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import type { Digest, DigestLeaves } from './digest.js';

/**
 * A place in the store's commit order, opaque outside the adapter (SQLite: the logs row seq;
 * MongoDB: a global counter value given to each event when it is first seen committed). Positions only ever grow.
 */
export type CommitPosition = string;

/** An event as the sealer needs it: where it was committed, its id and its stored hash. */
export interface SealableEvent {
  position: CommitPosition;
  id: string;
  hash: string;
}

export interface CommittedEvent {
  position: CommitPosition;
  /** The event as its stored fields say; verify recomputes its hash from these. */
  event: LogEvent;
  /** The hash stored beside it when it was written (null for rows older than hashing). */
  storedHash: string | null;
}

/** A cleanup that deleted sealed events, so verify can tell it from tampering. */
export interface CleanupRecord {
  cleanup_id: number;
  deleted_at: string;
  /** The timestamp bound it deleted below, or null for a purge of everything. */
  before: string | null;
  deleted_count: number;
  /** The audit event that records the cleanup, when the caller gave one. */
  audit_event_id: string | null;
}

/**
 * What tamper evidence needs from a store, beside LogStore and in the same database, so that
 * digests, leases and cleanup records commit where the events do. Every method takes the tenant first.
 */
export interface IntegrityStore {
  /** Tenants with events committed after `after` (null: any), and the position read up to. */
  tenantsWithEventsAfter(after: CommitPosition | null): Promise<{ tenants: TenantId[]; through: CommitPosition | null }>;
  /**
   * The position up to which every tenant's events are known to be sealed, saved by a sealer after
   * a round that left no tenant behind; a restarted sealer scans from here, not from the start.
   */
  loadWatermark(): Promise<CommitPosition | null>;
  /** Saves the watermark; it only ever moves forward. */
  saveWatermark(position: CommitPosition): Promise<void>;
  /** Up to `limit` of the tenant's events committed after `after` (null: from the first), in commit order. */
  sealable(tenant: TenantId, after: CommitPosition | null, limit: number): Promise<SealableEvent[]>;
  /** The tenant's events with positions in (after, through], in commit order, as stored (through null: to the end). */
  committed(tenant: TenantId, after: CommitPosition | null, through: CommitPosition | null): AsyncIterable<CommittedEvent>;
  /** Where the tenant's event with this id sits in commit order, or null when it is not stored. */
  positionOf(tenant: TenantId, id: string): Promise<CommitPosition | null>;

  latestDigest(tenant: TenantId): Promise<Digest | null>;
  /**
   * Appends the digest only if it directly follows the tenant's latest one (seq and prev_hash),
   * atomically. Returns false when another sealer appended first: the chain never forks.
   */
  appendDigest(tenant: TenantId, digest: Digest, leaves: DigestLeaves): Promise<boolean>;
  /** Digests in seq order with seq > afterSeq, at most `limit`. */
  digests(tenant: TenantId, afterSeq: number, limit: number): Promise<Digest[]>;
  digestCount(tenant: TenantId): Promise<number>;
  digestLeaves(tenant: TenantId, seq: number): Promise<DigestLeaves | null>;
  /** The digest whose range holds this position, or null when it is not sealed yet. */
  digestCovering(tenant: TenantId, position: CommitPosition): Promise<Digest | null>;

  /**
   * Takes the tenant's sealer lease for `holder` until now + ttlMs, or renews it if holder has it.
   * Atomic: of any number of callers, one holds an unexpired lease. True when holder has it.
   */
  acquireLease(tenant: TenantId, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(tenant: TenantId, holder: string): Promise<void>;

  /** Which of these event ids a cleanup deleted, and which cleanup. */
  deletedByCleanup(tenant: TenantId, ids: readonly string[]): Promise<Map<string, CleanupRecord>>;
  close(): Promise<void>;
}
