import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import type { DestinationRecord } from './destination.js';

/** Where a destination's delivery stands; kept beside it so every replica's API shows the same state. */
export interface DestinationProgress {
  /** The last commit position delivered or dead-lettered: delivery continues after it. */
  position: number;
  /** Events delivered (a batch sent again after a lost answer counts again). */
  delivered: number;
  /** Delivery attempts that failed (each retry counts). */
  failedAttempts: number;
  /** Events moved to the dead-letter list. */
  deadLettered: number;
  status: DestinationStatus;
  lastError: string | null;
  lastAttemptAt: string | null;
  lastDeliveredAt: string | null;
}

/**
 * ok: delivering or caught up; retrying: the current batch failed and is being retried;
 * blocked: the dead-letter list is full, so the current batch is retried at the longest backoff
 * until a replay or a delete makes room (nothing is dropped); disabled: switched off by the admin.
 */
export type DestinationStatus = 'ok' | 'retrying' | 'blocked' | 'disabled';

/** A batch that ran out of retries, with its events, until a replay delivers it. */
export interface DeadLetter {
  id: number;
  destinationId: string;
  firstPosition: number;
  lastPosition: number;
  events: LogEvent[];
  error: string;
  failedAt: string;
  attempts: number;
  replayRequested: boolean;
}

export type DeadLetterSummary = Omit<DeadLetter, 'events'> & { eventCount: number };

export interface DestinationPatch {
  name?: string | undefined;
  enabled?: boolean | undefined;
  settings?: Record<string, unknown> | undefined;
  filter?: Record<string, string> | undefined;
  secret?: string | undefined;
  updatedAt: string;
}

/**
 * The tenants' stream destinations, each one's progress, dead letters and delivery lease, beside the
 * events (SQLite file or MongoDB database). Every tenant-facing method takes the tenant first; the
 * deliverer's methods take a destination id it read from `enabledDestinations`.
 */
export interface StreamStore {
  /** Stores a new destination with its starting progress; false (and nothing stored) when the tenant already has `maxPerTenant`. */
  create(tenant: TenantId, destination: DestinationRecord, startPosition: number, maxPerTenant: number): Promise<boolean>;
  list(tenant: TenantId): Promise<DestinationRecord[]>;
  get(tenant: TenantId, id: string): Promise<DestinationRecord | null>;
  /** The updated destination, or null when the tenant has no such destination. */
  update(tenant: TenantId, id: string, patch: DestinationPatch): Promise<DestinationRecord | null>;
  /** Removes the destination, its progress, dead letters and lease; false when not found. */
  remove(tenant: TenantId, id: string): Promise<boolean>;

  /** Every tenant's destinations, enabled or not, by id after `afterId` (null: from the first), at most `limit`: for sealing secrets again after a key rotation. */
  allDestinations(afterId: string | null, limit: number): Promise<DestinationRecord[]>;
  /**
   * Replaces the destination's sealed secret with `to` if it is still `from` (a PATCH in between
   * wins); its `updatedAt` stays (nothing the admin set changed). Whether it replaced it.
   */
  replaceSecret(destinationId: string, from: string, to: string): Promise<boolean>;
  /** Every tenant's enabled destinations (the deliverer's work list), at most `limit`. */
  enabledDestinations(limit: number): Promise<DestinationRecord[]>;
  progress(destinationId: string): Promise<DestinationProgress | null>;
  /** Saves progress; the position never moves back (a replica whose lease lapsed cannot rewind it). */
  saveProgress(destinationId: string, progress: DestinationProgress): Promise<void>;

  /** Adds a dead letter unless the destination already has `max`; false when full (nothing added). */
  addDeadLetter(destinationId: string, letter: Omit<DeadLetter, 'id' | 'destinationId'>, max: number): Promise<boolean>;
  deadLetterCount(destinationId: string): Promise<number>;
  /** The tenant's destination's dead letters, oldest first, without their events; null when the destination is not the tenant's. */
  deadLetters(tenant: TenantId, destinationId: string, limit: number): Promise<DeadLetterSummary[] | null>;
  /** Marks every dead letter of the destination (or those ids) for replay; how many; null when not the tenant's. */
  requestReplay(tenant: TenantId, destinationId: string, ids?: readonly number[]): Promise<number | null>;
  /** Up to `limit` dead letters marked for replay, oldest first, with their events. */
  replayable(destinationId: string, limit: number): Promise<DeadLetter[]>;
  /** A replayed letter was delivered: it leaves the list. */
  removeDeadLetter(destinationId: string, letterId: number): Promise<void>;
  /** A replay failed again: the letter stays, unmarked, with the new error. */
  replayFailed(destinationId: string, letterId: number, error: string, failedAt: string): Promise<void>;
  /**
   * Drops from the tenant's dead letters the copies of events the store no longer keeps (a retention
   * run or a cleanup deleted them: `expired` says which); a letter left empty leaves the list. Reads
   * the letters a page at a time. How many event copies it dropped.
   */
  pruneDeadLetters(tenant: TenantId, expired: (event: LogEvent) => boolean): Promise<number>;

  /** Takes or renews the destination's delivery lease for `holder`; false while another holder's lease runs. */
  acquireLease(destinationId: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(destinationId: string, holder: string): Promise<void>;
  close(): Promise<void>;
}

export const initialProgress = (position: number): DestinationProgress => ({
  position,
  delivered: 0,
  failedAttempts: 0,
  deadLettered: 0,
  status: 'ok',
  lastError: null,
  lastAttemptAt: null,
  lastDeliveredAt: null,
});
