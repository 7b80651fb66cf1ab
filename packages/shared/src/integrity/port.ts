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
  timestamp: string;
}

/** A stored level-8 subtree hash: leaves [tile * 256, tile * 256 + 256). */
export interface Tile {
  tile: number;
  hash: Buffer;
}

export interface CommittedEvent {
  position: CommitPosition;
  /** The event as its stored fields say; verify recomputes its hash from these. */
  event: LogEvent;
  /** The hash stored beside it when it was written (null for rows older than hashing). */
  storedHash: string | null;
}

/**
 * One signed tree head of a tenant's tree and the batch of leaves that grew the tree to it. The
 * signed part is `note` (C2SP checkpoint); the rest says where the batch's events sit in the store.
 */
export interface Checkpoint {
  tenant_id: string;
  origin: string;
  tree_size: number;
  /** RFC 9162 root of the tenant's whole tree at tree_size, hex. */
  root_hash: string;
  time: string;
  key_id: string;
  /** The C2SP signed note: origin, size, base64 root, `time` line, blank line, signature line. */
  note: string;
  /** Leaves this checkpoint added: tree indexes [tree_size - count, tree_size). */
  count: number;
  first_event_id: string;
  last_event_id: string;
  first_position: CommitPosition;
  last_position: CommitPosition;
  /** The compact range of the tree at tree_size (hex), so the next seal appends without rereading. */
  frontier: string[];
}

/** The leaves a checkpoint added, in tree order: event ids and RFC 9162 leaf hashes (hex). */
export interface CheckpointLeaves {
  ids: string[];
  hashes: string[];
}

/** A deleted event's leaf, kept: its tree entry and the cleanup that deleted it. */
export interface Tombstone {
  event_id: string;
  /** Null for events deleted before tombstones kept their entry (digest-v1 data). */
  event_hash: string | null;
  timestamp: string | null;
  cleanup: CleanupRecord;
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
  /** Who decided it: a request (DELETE /api/v1/logs/cleanup) or the tenant's retention policy. */
  by: 'request' | 'policy';
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
  /** The tenant's event with this id as stored, with its position, or null when it is not stored. */
  eventAt(tenant: TenantId, id: string): Promise<CommittedEvent | null>;
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
  /** The tombstones of these event ids, where a cleanup left one. */
  tombstones(tenant: TenantId, ids: readonly string[]): Promise<Map<string, Tombstone>>;
  /** Every cleanup record of the tenant, with how many tombstones name it. */
  cleanups(tenant: TenantId): Promise<{ record: CleanupRecord; tombstones: number }[]>;

  /** The tenant's newest checkpoint, or null before the first. */
  latestCheckpoint(tenant: TenantId): Promise<Checkpoint | null>;
  /**
   * Appends the checkpoint, its leaves and the tiles they complete, atomically, only if it directly
   * follows the tenant's latest (tree_size - count is the latest size). False when another sealer was first.
   */
  appendCheckpoint(tenant: TenantId, checkpoint: Checkpoint, leaves: CheckpointLeaves, tiles: readonly Tile[]): Promise<boolean>;
  /** Checkpoints with tree_size > afterSize in size order, at most `limit`. */
  checkpoints(tenant: TenantId, afterSize: number, limit: number): Promise<Checkpoint[]>;
  checkpointCount(tenant: TenantId): Promise<number>;
  /** The checkpoint at exactly this tree size, or null. */
  checkpointAt(tenant: TenantId, treeSize: number): Promise<Checkpoint | null>;
  checkpointLeaves(tenant: TenantId, treeSize: number): Promise<CheckpointLeaves | null>;
  /** The first checkpoint whose batch reaches this position, or null when it is not in the tree yet. */
  checkpointCovering(tenant: TenantId, position: CommitPosition): Promise<Checkpoint | null>;
  /** Leaf hashes [start, end) of the tenant's tree (end at most the latest size). */
  leafHashes(tenant: TenantId, start: number, end: number): Promise<Buffer[]>;
  /** Stored level-8 subtree hashes [first, end); throws when one is missing. */
  tiles(tenant: TenantId, first: number, end: number): Promise<Buffer[]>;
  /** Stores a witness's cosignature line of the checkpoint at this size, replacing that witness's earlier one. */
  addCosignature(tenant: TenantId, treeSize: number, witness: string, line: string): Promise<void>;
  cosignatures(tenant: TenantId, treeSize: number): Promise<string[]>;
  /** Every tree size a witness cosigned, ascending. */
  cosignedSizes(tenant: TenantId): Promise<number[]>;
  close(): Promise<void>;
}
