import type { TenantId } from '../store/tenant-id.js';
import { checkDigest, checkLeaves, type Digest } from './digest.js';
import { eventHash } from './event-hash.js';
import type { KeyRing } from './keyring.js';
import type { CleanupRecord, CommitPosition, IntegrityStore } from './port.js';
import { type TreeBreak, verifyTree } from './verify-tree.js';

export type ProblemKind = 'changed' | 'removed' | 'inserted' | 'reordered';

export interface EventProblem {
  kind: ProblemKind;
  event_id: string;
  /** The digest-v1 digest that sealed it (or whose range it turned up in); null in the tree or when not sealed yet. */
  digest_seq: number | null;
  /** Its leaf in the tenant's tree (checkpoint data); null for digest-v1 data or an event that was never a leaf. */
  leaf_index?: number | null;
  detail: string;
}

export interface ChainBreak {
  digest_seq: number;
  reason: string;
}

export interface VerifyReport {
  status: 'intact' | 'tampered';
  digests_checked: number;
  /** Events sealed by the digests checked, as the digests say. */
  events_sealed: number;
  /** Sealed events found and matching their sealed hash. */
  events_verified: number;
  /** Events committed after the last digest: checked against their stored hash only. */
  events_unsealed: number;
  /** Sealed events a recorded cleanup deleted: not tampering. */
  deleted_by_cleanup: number;
  /** Of deleted_by_cleanup, the events a tenant's retention policy deleted (cleanups with by = policy). */
  deleted_by_policy: number;
  cleanups: CleanupRecord[];
  problems: Record<ProblemKind, number>;
  first_problem: EventProblem | null;
  /** The first problems in commit order, at most SAMPLE_SIZE. */
  problem_samples: EventProblem[];
  /** The digest-v1 chain (data sealed before the tree; empty on a log that started with checkpoints). */
  chain: { intact: boolean; first_break: ChainBreak | null };
  checkpoints_checked: number;
  tree_size: number;
  /** The tenant's tree: every checkpoint's signature, key window, and that it extends the one before. */
  tree: { intact: boolean; first_break: TreeBreak | null };
  /** Cleanup records that do not hold up (forged, or not matching their audit event). */
  cleanup_problems: { cleanup_id: number; reason: string }[];
}

export interface VerifyRange {
  /** A checkpoint the caller saw before (size and hex root): the tree must still extend it. */
  trusted?: { size: number; root: string } | undefined;
  /** Check the digests sealed at or after this ISO time (and the link to the one before). */
  from?: string | undefined;
  /** Check the digests sealed before this ISO time; events after the last one are then not looked at. */
  to?: string | undefined;
}

const SAMPLE_SIZE = 20;
const PAGE = 200;

interface Located extends EventProblem {
  /** Sort key within the digest: where in the sealed order it belongs. */
  index: number;
}

/**
 * Recomputes a tenant's log against its digests: each digest's hash, signature and link to the
 * one before; each digest's leaves against its Merkle root; and each stored event, in commit
 * order, against the hash it was sealed with. Names the first event changed, removed, inserted
 * or reordered and the first broken link; events deleted by a recorded cleanup are counted apart.
 */
export async function verifyTenantLog(
  store: IntegrityStore,
  keys: KeyRing,
  tenant: TenantId,
  range: VerifyRange = {},
): Promise<VerifyReport> {
  const problems: Located[] = [];
  let firstBreak: ChainBreak | null = null;
  const breakAt = (digest_seq: number, reason: string) => {
    firstBreak ??= { digest_seq, reason };
  };
  let digestsChecked = 0;
  let eventsSealed = 0;
  let eventsVerified = 0;
  // Ids missing from their digest's range, and ids found in a range whose digest did not seal them:
  // an id in both was moved (reordered); otherwise missing means removed and stray means inserted.
  const missing = new Map<string, Located>();
  const strays = new Map<string, Located>();

  let previous: Digest | null = null;
  let afterSeq = 0;
  let previousPosition: CommitPosition | null = null;
  let stoppedAtTo = false;
  for (;;) {
    const page = await store.digests(tenant, afterSeq, PAGE);
    for (const digest of page) {
      afterSeq = digest.seq;
      if (range.to !== undefined && digest.sealed_at >= range.to) {
        stoppedAtTo = true;
        break;
      }
      if (range.from !== undefined && digest.sealed_at < range.from) {
        previous = digest;
        previousPosition = digest.last_position;
        continue;
      }
      digestsChecked++;
      eventsSealed += digest.count;
      const expectedSeq = (previous?.seq ?? 0) + 1;
      if (digest.seq !== expectedSeq) breakAt(digest.seq, `digest ${expectedSeq} is missing before digest ${digest.seq}`);
      else if (digest.prev_hash !== (previous?.hash ?? null))
        breakAt(digest.seq, `its prev_hash does not match digest ${previous?.seq ?? 0}`);
      const key = keys.verifyingKey(digest.key_id);
      const invalid =
        digest.tenant_id !== tenant
          ? 'it names another tenant'
          : key === null
            ? `it is signed by key ${digest.key_id}, which is not in the key ring`
            : checkDigest(digest, key);
      if (invalid !== null) breakAt(digest.seq, invalid);
      const leaves = await store.digestLeaves(tenant, digest.seq);
      const badLeaves = leaves === null ? 'its sealed event list is gone' : checkLeaves(digest, leaves);
      if (badLeaves !== null || leaves === null) {
        breakAt(digest.seq, badLeaves ?? 'its sealed event list is gone');
      } else {
        eventsVerified += await compareRange(store, tenant, digest, leaves, previousPosition, problems, missing, strays);
      }
      previous = digest;
      previousPosition = digest.last_position;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (page.length < PAGE || (range.to !== undefined && (page.at(-1)?.sealed_at ?? '') >= range.to)) break;
  }

  // Everything after the last digest-v1 digest is in the tenant's tree (the version boundary).
  // With `to` before the newest digest-v1 digest, the tree (all later) is out of range.
  const tree = await verifyTree(store, keys, tenant, previousPosition, stoppedAtTo ? { to: '' } : range);

  for (const [id, stray] of strays) {
    const lost = missing.get(id);
    if (lost) {
      missing.delete(id);
      problems.push({
        ...lost,
        kind: 'reordered',
        detail: `sealed in digest ${lost.digest_seq}, found in the range of digest ${stray.digest_seq}`,
      });
    } else {
      problems.push(stray);
    }
  }
  const cleaned = await store.deletedByCleanup(tenant, [...missing.keys()]);
  const cleanups = new Map<number, CleanupRecord>();
  for (const [id, lost] of missing) {
    const cleanup = cleaned.get(id);
    if (cleanup) cleanups.set(cleanup.cleanup_id, cleanup);
    else problems.push(lost);
  }

  const treeProblems: Located[] = tree.problems.map((problem, index) => ({ ...problem, digest_seq: null, index }));
  problems.push(...treeProblems);
  problems.sort((a, b) => (a.digest_seq ?? Number.MAX_SAFE_INTEGER) - (b.digest_seq ?? Number.MAX_SAFE_INTEGER) || a.index - b.index);
  const samples = problems.slice(0, SAMPLE_SIZE).map(({ index: _index, ...problem }) => problem);
  const counts: Record<ProblemKind, number> = { changed: 0, removed: 0, inserted: 0, reordered: 0 };
  for (const problem of problems) counts[problem.kind]++;
  return {
    status: problems.length === 0 && firstBreak === null && tree.first_break === null ? 'intact' : 'tampered',
    digests_checked: digestsChecked,
    events_sealed: eventsSealed + tree.tree_size,
    events_verified: eventsVerified + tree.events_verified,
    events_unsealed: range.to === undefined ? tree.events_unsealed : 0,
    deleted_by_cleanup: cleaned.size + tree.deleted_by_cleanup,
    deleted_by_policy: [...cleaned.values()].filter((record) => record.by === 'policy').length + tree.deleted_by_policy,
    cleanups: [...cleanups.values(), ...tree.cleanups.filter((record) => !cleanups.has(record.cleanup_id))],
    problems: counts,
    first_problem: samples[0] ?? null,
    problem_samples: samples,
    chain: { intact: firstBreak === null, first_break: firstBreak },
    checkpoints_checked: tree.checkpoints_checked,
    tree_size: tree.tree_size,
    tree: { intact: tree.first_break === null, first_break: tree.first_break },
    cleanup_problems: tree.cleanup_problems,
  };
}

/** Compares one digest's range of stored events with its leaves; returns how many matched. */
async function compareRange(
  store: IntegrityStore,
  tenant: TenantId,
  digest: Digest,
  leaves: { ids: string[]; hashes: string[] },
  after: CommitPosition | null,
  problems: Located[],
  missing: Map<string, Located>,
  strays: Map<string, Located>,
): Promise<number> {
  const indexOf = new Map(leaves.ids.map((id, index) => [id, index]));
  const found: { index: number; id: string }[] = [];
  let matched = 0;
  for await (const { event, position } of store.committed(tenant, after, digest.last_position)) {
    const index = indexOf.get(event.id);
    if (index === undefined) {
      strays.set(event.id, {
        kind: 'inserted',
        event_id: event.id,
        digest_seq: digest.seq,
        index: found.length,
        detail: `at position ${position}, inside the range of digest ${digest.seq}, which did not seal it`,
      });
      continue;
    }
    found.push({ index, id: event.id });
    if (eventHash(event) === leaves.hashes[index]) matched++;
    else
      problems.push({
        kind: 'changed',
        event_id: event.id,
        digest_seq: digest.seq,
        index,
        detail: 'its content no longer gives the hash it was sealed with',
      });
  }
  const present = new Set(found.map((entry) => entry.index));
  leaves.ids.forEach((id, index) => {
    if (!present.has(index)) {
      missing.set(id, {
        kind: 'removed',
        event_id: id,
        digest_seq: digest.seq,
        index,
        detail: `sealed as number ${index + 1} of digest ${digest.seq}, no longer stored`,
      });
    }
  });
  // Events found in the range must come in the order they were sealed; name each one out of place.
  const sealedOrder = found.map((entry) => entry.index).sort((a, b) => a - b);
  found.forEach((entry, k) => {
    if (entry.index !== sealedOrder[k]) {
      problems.push({
        kind: 'reordered',
        event_id: entry.id,
        digest_seq: digest.seq,
        index: sealedOrder[k] as number,
        detail: `sealed as number ${entry.index + 1} of digest ${digest.seq}, now stored as number ${(sealedOrder[k] as number) + 1}`,
      });
    }
  });
  return matched;
}
