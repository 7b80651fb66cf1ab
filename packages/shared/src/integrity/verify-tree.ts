import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import { type CleanupStatement, cleanupSignatureProblem } from './cleanup-signature.js';
import { eventHash } from './event-hash.js';
import type { KeyRing } from './keyring.js';
import type { CleanupRecord, CommitPosition, IntegrityStore, Tombstone } from './port.js';
import { originOf } from './sealer.js';
import { CompactRange, eventLeafHash } from './tree.js';
import { storedRoot } from './tree-proofs.js';

export type TreeProblemKind = 'changed' | 'removed' | 'inserted' | 'reordered';

export interface TreeProblem {
  kind: TreeProblemKind;
  event_id: string;
  /** Where the event sits in the tenant's tree; null when it was never a leaf. */
  leaf_index: number | null;
  detail: string;
}

export interface TreeBreak {
  tree_size: number;
  reason: string;
}

export interface TreeReport {
  checkpoints_checked: number;
  tree_size: number;
  events_verified: number;
  events_unsealed: number;
  deleted_by_cleanup: number;
  /** Of deleted_by_cleanup, those a retention policy's cleanups deleted. */
  deleted_by_policy: number;
  cleanups: CleanupRecord[];
  /** Cleanup records that do not hold up; every tombstone that names one is a removal. */
  cleanup_problems: { cleanup_id: number; reason: string }[];
  problems: TreeProblem[];
  first_break: TreeBreak | null;
}

/** A checkpoint the auditor kept (or a witness cosigned): today's tree must extend it. */
export interface TrustedCheckpoint {
  size: number;
  /** Hex. */
  root: string;
}

/** The audit action a cleanup records itself under (services/log rules/self-audit). */
const CLEANUP_ACTION = 'logs.cleanup';
const PAGE = 200;

interface Missing {
  id: string;
  leafIndex: number;
  leafHash: string;
  sealedIn: number;
}

interface CleanupVerdict {
  problem: string | null;
  /** The audit event's leaf index, or +Infinity while it is not in the tree yet. */
  auditLeaf: number;
}

/**
 * Verifies a tenant's tree after the digest-v1 boundary: every checkpoint's note, signature and key
 * window, that each checkpoint extends the one before (its leaves, appended, give its root), each
 * stored event against its leaf, and each leaf no longer stored against a tombstone whose cleanup
 * really covers it. Holds one checkpoint's leaves and the unresolved problems at a time.
 */
export async function verifyTree(
  store: IntegrityStore,
  keys: KeyRing,
  tenant: TenantId,
  boundary: CommitPosition | null,
  window: { from?: string | undefined; to?: string | undefined; trusted?: TrustedCheckpoint | undefined } = {},
): Promise<TreeReport> {
  const origin = originOf(keys.name, tenant);
  const problems: TreeProblem[] = [];
  let firstBreak: TreeBreak | null = null;
  const breakAt = (tree_size: number, reason: string) => {
    firstBreak ??= { tree_size, reason };
  };
  const range = CompactRange.empty();
  const missing = new Map<string, Missing>();
  const strays = new Map<string, { position: CommitPosition; sealedIn: number | null }>();
  const cleanupVerdicts = new Map<number, Promise<CleanupVerdict>>();
  const usedCleanups = new Map<number, CleanupRecord>();
  let deletedByCleanup = 0;
  let deletedByPolicy = 0;
  let checked = 0;
  let verified = 0;
  let previousPosition = boundary;
  let previousTime: string | null = null;

  const rootAt = async (size: number): Promise<string> => (await storedRoot(store, tenant, size)).toString('hex');
  const cleanupList = await store.cleanups(tenant);
  const cleanupCounts = new Map(cleanupList.map((entry) => [entry.record.cleanup_id, entry.tombstones]));
  // A signed audit event backs one cleanup: a second record naming it would reuse a real signature.
  const auditUses = new Map<string, number>();
  for (const { record } of cleanupList)
    if (record.audit_event_id !== null) auditUses.set(record.audit_event_id, (auditUses.get(record.audit_event_id) ?? 0) + 1);
  const leafIndexOf = async (id: string): Promise<number> => {
    const position = await store.positionOf(tenant, id);
    const batch = position === null ? null : await store.checkpointCovering(tenant, position);
    const leaves = batch === null ? null : await store.checkpointLeaves(tenant, batch.tree_size);
    const offset = leaves?.ids.indexOf(id) ?? -1;
    return batch === null || offset < 0 ? Number.POSITIVE_INFINITY : batch.tree_size - batch.count + offset;
  };
  /**
   * Per decider (request, policy), the leaf of the first cleanup audit event the server signed: from
   * there on the log signs that decider's cleanups, so an unsigned one after it was written into the
   * store, not by the server. Looked up once, the first time a cleanup is judged.
   */
  let signedSince: Promise<Map<CleanupRecord['by'], number>> | null = null;
  const firstSignedLeaves = () => {
    signedSince ??= (async () => {
      const first = new Map<CleanupRecord['by'], number>();
      for (const { record } of cleanupList) {
        const audit = record.audit_event_id === null ? null : await store.eventAt(tenant, record.audit_event_id);
        const signature = audit ? signatureOf(audit.event) : undefined;
        if (
          !audit ||
          signature === undefined ||
          cleanupSignatureProblem(keys, statementOf(tenant, audit.event, record), signature) !== null
        )
          continue;
        const leaf = await leafIndexOf(audit.event.id);
        if (leaf < (first.get(record.by) ?? Number.POSITIVE_INFINITY)) first.set(record.by, leaf);
      }
      return first;
    })();
    return signedSince;
  };
  /**
   * Whether a cleanup record holds up: its audit event is a logs.cleanup leaf that says the same, it
   * names as many tombstones as it says it deleted, and it carries the server's signature (when it
   * has one it must verify; without one it must come before the server's first signed cleanup).
   */
  const judgeCleanup = (record: CleanupRecord, depth: number): Promise<CleanupVerdict> => {
    let verdict = cleanupVerdicts.get(record.cleanup_id);
    if (verdict) return verdict;
    verdict = (async (): Promise<CleanupVerdict> => {
      const fail = (problem: string): CleanupVerdict => ({ problem, auditLeaf: Number.POSITIVE_INFINITY });
      const tombstones = cleanupCounts.get(record.cleanup_id) ?? 0;
      if (tombstones !== record.deleted_count)
        return fail(`it says it deleted ${record.deleted_count} events, but ${tombstones} tombstones name it`);
      if (record.audit_event_id === null) return fail('it names no audit event');
      if ((auditUses.get(record.audit_event_id) ?? 0) > 1)
        return fail(`its audit event ${record.audit_event_id} backs another cleanup record too`);
      const audit = await store.eventAt(tenant, record.audit_event_id);
      if (audit === null) {
        // The audit event was itself deleted by a later cleanup: then that cleanup must hold up.
        const tomb = (await store.tombstones(tenant, [record.audit_event_id])).get(record.audit_event_id);
        if (!tomb || depth > 8) return fail(`its audit event ${record.audit_event_id} is not stored`);
        const later = await judgeCleanup(tomb.cleanup, depth + 1);
        // Its leaf index is not looked up: a tombstone is not indexed by id, and a later cleanup ran after it anyway.
        return later.problem === null
          ? { problem: null, auditLeaf: Number.POSITIVE_INFINITY }
          : fail(`its audit event was deleted by cleanup ${tomb.cleanup.cleanup_id}, which does not hold up`);
      }
      const problem = auditProblem(audit.event, record);
      if (problem !== null) return fail(problem);
      if (audit.storedHash !== null && eventHash(audit.event) !== audit.storedHash) return fail('its audit event was changed');
      const signature = signatureOf(audit.event);
      if (signature !== undefined) {
        const unsigned = cleanupSignatureProblem(keys, statementOf(tenant, audit.event, record), signature);
        if (unsigned !== null) return fail(unsigned);
      }
      const auditLeaf = await leafIndexOf(audit.event.id);
      const since = signature === undefined ? (await firstSignedLeaves()).get(record.by) : undefined;
      if (since !== undefined && auditLeaf > since)
        return fail(
          `its audit event is not signed, but the server has signed its ${record.by} cleanups since leaf ${since}: the record was written into the store, not by the server`,
        );
      return { problem: null, auditLeaf };
    })();
    cleanupVerdicts.set(record.cleanup_id, verdict);
    return verdict;
  };

  /** A missing leaf is a cleanup's, or a removal: resolved a checkpoint at a time so memory stays flat. */
  const settle = async (batch: Map<string, Missing>) => {
    if (batch.size === 0) return;
    const found = await store.tombstones(tenant, [...batch.keys()]);
    for (const [id, lost] of batch) {
      const tomb = found.get(id);
      if (!tomb) continue; // may yet turn up later in commit order (reordered), else a removal
      batch.delete(id);
      const reason = await tombstoneProblem(tomb, lost);
      if (reason === null) {
        deletedByCleanup++;
        if (tomb.cleanup.by === 'policy') deletedByPolicy++;
        usedCleanups.set(tomb.cleanup.cleanup_id, tomb.cleanup);
      } else problems.push({ kind: 'removed', event_id: id, leaf_index: lost.leafIndex, detail: reason });
    }
  };
  const tombstoneProblem = async (tomb: Tombstone, lost: Missing): Promise<string | null> => {
    const at = `leaf ${lost.leafIndex} is no longer stored`;
    if (tomb.event_hash === null || tomb.timestamp === null) return `${at} and its tombstone keeps no leaf entry`;
    if (eventLeafHash(tomb.event_hash, tomb.timestamp).toString('hex') !== lost.leafHash)
      return `${at} and its tombstone does not give the leaf it claims to be`;
    const cleanup = tomb.cleanup;
    if (cleanup.before !== null && !(tomb.timestamp < cleanup.before))
      return `${at}; cleanup ${cleanup.cleanup_id} deleted events before ${cleanup.before}, and this one is from ${tomb.timestamp}`;
    const verdict = await judgeCleanup(cleanup, 0);
    if (verdict.problem !== null) return `${at}; cleanup ${cleanup.cleanup_id} does not hold up: ${verdict.problem}`;
    if (verdict.auditLeaf <= lost.leafIndex)
      return `${at}; cleanup ${cleanup.cleanup_id} ran before it was logged (its audit event is leaf ${verdict.auditLeaf})`;
    return null;
  };

  let reachedTo = false;
  for (let after = 0; !reachedTo; ) {
    const page = await store.checkpoints(tenant, after, PAGE);
    for (const checkpoint of page) {
      after = checkpoint.tree_size;
      if (window.to !== undefined && checkpoint.time >= window.to) {
        reachedTo = true;
        break;
      }
      // Before `from`: the leaves still build the tree (every root depends on them), the events are not compared.
      const compare = window.from === undefined || checkpoint.time >= window.from;
      if (compare) checked++;
      const start = range.treeSize;
      if (checkpoint.tree_size - checkpoint.count !== start)
        breakAt(
          checkpoint.tree_size,
          `it adds ${checkpoint.count} leaves to a tree of ${checkpoint.tree_size - checkpoint.count}, but the tree before it has ${start}`,
        );
      const invalid = checkpoint.tenant_id !== tenant ? 'it names another tenant' : keys.checkCheckpoint(checkpoint, origin);
      if (invalid !== null) breakAt(checkpoint.tree_size, invalid);
      if (previousTime !== null && checkpoint.time < previousTime)
        breakAt(checkpoint.tree_size, `its time ${checkpoint.time} is before the previous checkpoint's (${previousTime})`);
      previousTime = checkpoint.time;
      const leaves = await store.checkpointLeaves(tenant, checkpoint.tree_size);
      if (leaves === null || leaves.ids.length !== checkpoint.count || leaves.hashes.length !== checkpoint.count) {
        breakAt(checkpoint.tree_size, 'its leaves are gone or the wrong number');
        previousPosition = checkpoint.last_position;
        continue;
      }
      for (const leaf of leaves.hashes) range.append(Buffer.from(leaf, 'hex'));
      if (range.root().toString('hex') !== checkpoint.root_hash)
        breakAt(checkpoint.tree_size, 'its leaves, appended to the tree before it, do not give its root');

      if (!compare) {
        previousPosition = checkpoint.last_position;
        continue;
      }
      const indexOf = new Map(leaves.ids.map((id, offset) => [id, offset]));
      const found: number[] = [];
      for await (const { event, position } of store.committed(tenant, previousPosition, checkpoint.last_position)) {
        const offset = indexOf.get(event.id);
        if (offset === undefined) {
          const lost = missing.get(event.id);
          if (lost) {
            missing.delete(event.id);
            problems.push({
              kind: 'reordered',
              event_id: event.id,
              leaf_index: lost.leafIndex,
              detail: `sealed as leaf ${lost.leafIndex}, now stored inside the batch of checkpoint ${checkpoint.tree_size}`,
            });
          } else strays.set(event.id, { position, sealedIn: checkpoint.tree_size });
          continue;
        }
        found.push(offset);
        if (eventLeafHash(eventHash(event), event.timestamp).toString('hex') === leaves.hashes[offset]) verified++;
        else
          problems.push({
            kind: 'changed',
            event_id: event.id,
            leaf_index: start + offset,
            detail: 'its content or timestamp no longer gives its leaf',
          });
      }
      const sorted = [...found].sort((a, b) => a - b);
      found.forEach((offset, k) => {
        if (offset !== sorted[k])
          problems.push({
            kind: 'reordered',
            event_id: leaves.ids[offset] as string,
            leaf_index: start + offset,
            detail: `sealed as leaf ${start + offset}, now stored out of that order`,
          });
      });
      const present = new Set(found);
      const batchMissing = new Map<string, Missing>();
      leaves.ids.forEach((id, offset) => {
        if (present.has(offset)) return;
        const stray = strays.get(id);
        if (stray) {
          strays.delete(id);
          problems.push({
            kind: 'reordered',
            event_id: id,
            leaf_index: start + offset,
            detail: `sealed as leaf ${start + offset}, now stored before its place`,
          });
        } else
          batchMissing.set(id, {
            id,
            leafIndex: start + offset,
            leafHash: leaves.hashes[offset] as string,
            sealedIn: checkpoint.tree_size,
          });
      });
      await settle(batchMissing);
      for (const [id, lost] of batchMissing) missing.set(id, lost);
      previousPosition = checkpoint.last_position;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (page.length < PAGE) break;
  }

  let unsealed = 0;
  const rest = window.to === undefined ? store.committed(tenant, previousPosition, null) : [];
  for await (const { event, storedHash } of rest) {
    unsealed++;
    const lost = missing.get(event.id);
    if (lost) {
      missing.delete(event.id);
      problems.push({
        kind: 'reordered',
        event_id: event.id,
        leaf_index: lost.leafIndex,
        detail: `sealed as leaf ${lost.leafIndex}, now after the newest checkpoint`,
      });
    } else if (storedHash !== null && eventHash(event) !== storedHash) {
      problems.push({
        kind: 'changed',
        event_id: event.id,
        leaf_index: null,
        detail: 'not sealed yet; its content no longer gives its stored hash',
      });
    }
  }
  for (const [id, stray] of strays)
    problems.push({
      kind: 'inserted',
      event_id: id,
      leaf_index: null,
      detail: `at position ${stray.position}, inside the batch of checkpoint ${stray.sealedIn}, which did not seal it`,
    });
  for (const [id, lost] of missing)
    problems.push({
      kind: 'removed',
      event_id: id,
      leaf_index: lost.leafIndex,
      detail: `leaf ${lost.leafIndex} is no longer stored and no cleanup left a tombstone for it`,
    });

  // A rollback (the tree or its head cut back) or a split view (another tree of the same size) shows
  // only against a checkpoint seen before: one the caller trusts, and every size a witness cosigned.
  const pins: TrustedCheckpoint[] = window.trusted ? [window.trusted] : [];
  for (const size of await store.cosignedSizes(tenant)) {
    const cosigned = await store.checkpointAt(tenant, size);
    pins.push({ size, root: cosigned?.root_hash ?? '' });
  }
  if (window.to === undefined) {
    for (const pin of pins) {
      if (pin.size > range.treeSize)
        breakAt(
          range.treeSize,
          `rolled back: a checkpoint of size ${pin.size} was seen (trusted or cosigned), the tree now has ${range.treeSize} leaves`,
        );
      else if (pin.root === '') breakAt(pin.size, `a witness cosigned size ${pin.size}, and no checkpoint of that size is stored`);
      else if ((await rootAt(pin.size)) !== pin.root)
        breakAt(pin.size, `split view: the tree at size ${pin.size} does not have the root of the checkpoint seen at that size`);
    }
  }

  const cleanupProblems: { cleanup_id: number; reason: string }[] = [];
  for (const [cleanup_id, verdict] of cleanupVerdicts) {
    const { problem } = await verdict;
    if (problem !== null) cleanupProblems.push({ cleanup_id, reason: problem });
  }
  return {
    checkpoints_checked: checked,
    tree_size: range.treeSize,
    events_verified: verified,
    events_unsealed: unsealed,
    deleted_by_cleanup: deletedByCleanup,
    deleted_by_policy: deletedByPolicy,
    cleanups: [...usedCleanups.values()],
    cleanup_problems: cleanupProblems,
    problems,
    first_break: firstBreak,
  };
}

/** Why the audit event does not record this cleanup, or null when it does. */
const signatureOf = (event: LogEvent): unknown => (event.metadata as { signature?: unknown } | null)?.signature;

/** What the server signed for this cleanup (cleanup-signature.ts), as the record and its audit event say. */
const statementOf = (tenant: TenantId, event: LogEvent, record: CleanupRecord): CleanupStatement => ({
  tenant,
  id: event.id,
  timestamp: event.timestamp,
  before: record.before,
  deleted_count: record.deleted_count,
  by: record.by,
});

function auditProblem(event: LogEvent, record: CleanupRecord): string | null {
  if (event.action !== CLEANUP_ACTION || event.resource_type !== 'logs')
    return `its audit event ${event.id} is not a ${CLEANUP_ACTION} record`;
  const metadata = (event.metadata ?? {}) as { before?: unknown; deleted_count?: unknown; by?: unknown };
  // A policy's audit event says so (metadata.by = policy); a request's says nothing, as before policies.
  if ((metadata.by === 'policy' ? 'policy' : 'request') !== record.by)
    return `its audit event says by=${String(metadata.by ?? 'request')}, the record says ${record.by}`;
  if ((metadata.before ?? null) !== record.before)
    return `its audit event says before=${String(metadata.before)}, the record says ${record.before}`;
  if (metadata.deleted_count !== record.deleted_count)
    return `its audit event says ${String(metadata.deleted_count)} deleted, the record says ${record.deleted_count}`;
  return null;
}
