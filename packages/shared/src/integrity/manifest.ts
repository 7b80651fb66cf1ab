import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Conflict } from '../errors/catalogue.js';
import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';
import { signatureLine } from './checkpoint.js';
import type { Checkpoint, CleanupRecord, IntegrityStore } from './port.js';
import type { SigningKey } from './signing-key.js';
import { type Hash, rangeHash, splitPoint } from './tree.js';
import { hex, proveConsistency, storedSubtree } from './tree-proofs.js';

/**
 * The manifest of a verifiable export (`GET /api/v1/logs/export?manifest=true`, docs/tamper-evidence.md):
 * the last NDJSON line of the export, `{"manifest": …}`. It names the checkpoint that covers every
 * exported event, where each event sits in the tenant's tree, the tombstones among the leaves
 * between the first and the last exported one (with their cleanups and the cleanups' own audit
 * events), and one multi-leaf proof: the hashes of the largest subtrees that hold none of those
 * leaves, left to right, so the known leaves and these hashes give the checkpoint's root. The
 * count and SHA-256 of the event lines before it let a reader check the body; the whole manifest
 * is signed as a signed note by the log's key where the serving process holds it.
 */

/** At most this many events in an export with a manifest (DESIGN §9: its leaf indexes are held in memory). */
export const MANIFEST_MAX_EVENTS = 10_000;
/** The tombstone scan reads at most this many leaves between the first and last exported leaf. */
export const MANIFEST_MAX_SCAN = 1_000_000;
/** At most this many tombstones are listed; past it the scan stops (tombstone_scan says where). */
export const MANIFEST_MAX_TOMBSTONES = 10_000;

export interface ManifestTombstone {
  event_id: string;
  leaf_index: number;
  event_hash: string | null;
  timestamp: string | null;
  cleanup_id: number;
}

export interface ManifestCleanup extends CleanupRecord {
  /** The cleanup's own audit event (a leaf too) and where it sits; null when it is not in the tree yet. */
  audit_event: LogEvent | null;
  audit_leaf_index: number | null;
}

export interface ExportManifest {
  version: 1;
  tenant_id: string;
  /** The export's query parameters as given. */
  parameters: Record<string, string>;
  created_at: string;
  /** Event lines before the manifest line, and the SHA-256 (hex) of exactly those bytes. */
  count: number;
  body_sha256: string;
  /** The checkpoint every proven event is in, as the API shows checkpoints (its signed note included); null before the first seal. */
  checkpoint: Omit<Checkpoint, 'frontier' | 'first_position' | 'last_position'> | null;
  /** Tree index of each exported event, in body order; null for an event not in the tree yet. */
  leaf_indexes: (number | null)[];
  /** Exported events no checkpoint covered when the export ended (sealing runs every SEAL_INTERVAL). */
  unsealed: string[];
  tombstones: ManifestTombstone[];
  /** The leaf range [start, end) scanned for tombstones. */
  tombstone_scan: [number, number];
  cleanups: ManifestCleanup[];
  /** RFC 9162 subtree hashes (hex): the largest subtrees without a known leaf, left to right. */
  proof: string[];
  /** With trusted_size: the consistency proof from that size to the checkpoint. */
  consistency: { from: number; proof: string[] } | null;
  /** A C2SP signed note over the manifest (without this field), or null where the server holds no signing key. */
  signed_note: string | null;
}

/** The known leaves' multi-proof: MTHs of the maximal subtrees of [0, size) that hold none of `known` (sorted). */
export async function multiProof(
  size: number,
  known: readonly number[],
  subtree: (start: number, end: number) => Promise<Hash>,
): Promise<Hash[]> {
  const hashes: Hash[] = [];
  const anyIn = (start: number, end: number) => {
    let lo = 0;
    let hi = known.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((known[mid] as number) < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < known.length && (known[lo] as number) < end;
  };
  const walk = async (start: number, end: number): Promise<void> => {
    if (!anyIn(start, end)) {
      hashes.push(await rangeHash(start, end, subtree));
      return;
    }
    if (end - start === 1) return;
    const k = splitPoint(end - start);
    await walk(start, start + k);
    await walk(start + k, end);
  };
  if (size > 0) await walk(0, size);
  return hashes;
}

/** The signed-note body a manifest is signed as: not a checkpoint (its second line is not a size). */
export function manifestNoteBody(origin: string, manifest: Omit<ExportManifest, 'signed_note'>): string {
  const digest = hash('sha256', canonicalize(manifest) as string, 'base64');
  return `${origin}\nexport-manifest\n${digest}\ntime ${manifest.created_at}\n`;
}

export interface ManifestInput {
  tenant: TenantId;
  parameters: Record<string, string>;
  /** Ids of the exported events, in body order. */
  ids: readonly string[];
  count: number;
  bodySha256: string;
  now: Date;
  trustedSize?: number | undefined;
}

export interface ManifestDeps {
  store: IntegrityStore;
  /** The log store's get, for the cleanups' audit events. */
  get: (tenant: TenantId, id: string) => Promise<LogEvent | null>;
  /** The log's signing key and name, where this process holds it. */
  signer?: { key: () => SigningKey; name: string } | undefined;
  /** What a checkpoint looks like to a client (the route's presentCheckpoint). */
  present: (checkpoint: Checkpoint) => Promise<NonNullable<ExportManifest['checkpoint']>>;
}

/**
 * Where each event sits in the tenant's tree. Exported events come in commit order (or its
 * reverse), so neighbours share a batch: only the last batch's leaves are kept, one at a time.
 */
async function leafIndexes(store: IntegrityStore, tenant: TenantId, ids: readonly string[]): Promise<(number | null)[]> {
  type Batch = { size: number; start: number; offsets: Map<string, number> };
  let cached = null as Batch | null;
  const out: (number | null)[] = [];
  for (const id of ids) {
    const position = await store.positionOf(tenant, id);
    const batch = position === null ? null : await store.checkpointCovering(tenant, position);
    if (batch === null) {
      out.push(null);
      continue;
    }
    if (cached?.size !== batch.tree_size) {
      const leaves = await store.checkpointLeaves(tenant, batch.tree_size);
      cached = {
        size: batch.tree_size,
        start: batch.tree_size - batch.count,
        offsets: new Map((leaves?.ids ?? []).map((leaf, offset) => [leaf, offset])),
      };
    }
    const offset = cached.offsets.get(id);
    out.push(offset === undefined ? null : cached.start + offset);
  }
  return out;
}

export async function buildManifest(deps: ManifestDeps, input: ManifestInput): Promise<ExportManifest> {
  const { store } = deps;
  const { tenant } = input;
  const indexes = await leafIndexes(store, tenant, input.ids);
  // Taken after the lookups: checkpoints only grow, so it covers every leaf found above.
  const checkpoint = await store.latestCheckpoint(tenant);
  if (checkpoint === null) {
    // Nothing sealed yet (a new tenant): every event is unproven, and there is no tree to prove against.
    const manifest = { ...emptyParts(input), leaf_indexes: indexes, unsealed: [...input.ids] };
    return { ...manifest, signed_note: sign(deps, input.tenant, manifest) };
  }
  const unsealed = input.ids.filter((_, at) => indexes[at] === null);
  const placed = indexes.filter((index): index is number => index !== null);
  const first = placed.length === 0 ? 0 : Math.min(...placed);
  const last = placed.length === 0 ? -1 : Math.max(...placed);

  // Tombstones among the leaves from the first to the last exported one, batch by batch.
  const tombstones: ManifestTombstone[] = [];
  const records = new Map<number, CleanupRecord>();
  let scanned = first;
  const scanEnd = Math.min(last + 1, first + MANIFEST_MAX_SCAN);
  scan: while (scanned < scanEnd) {
    const batches = await store.checkpoints(tenant, scanned, 100);
    if (batches.length === 0) break;
    for (const batch of batches) {
      const start = batch.tree_size - batch.count;
      if (start >= scanEnd) break scan;
      const leaves = await store.checkpointLeaves(tenant, batch.tree_size);
      const ids = (leaves?.ids ?? []).filter((_, offset) => start + offset >= scanned && start + offset < scanEnd);
      const offsetOf = new Map((leaves?.ids ?? []).map((id, offset) => [id, offset]));
      for (const tomb of (await store.tombstones(tenant, ids)).values()) {
        if (tombstones.length >= MANIFEST_MAX_TOMBSTONES) {
          scanned = start + (offsetOf.get(tomb.event_id) as number);
          break scan;
        }
        tombstones.push({
          event_id: tomb.event_id,
          leaf_index: start + (offsetOf.get(tomb.event_id) as number),
          event_hash: tomb.event_hash,
          timestamp: tomb.timestamp,
          cleanup_id: tomb.cleanup.cleanup_id,
        });
        records.set(tomb.cleanup.cleanup_id, tomb.cleanup);
      }
      scanned = Math.min(batch.tree_size, scanEnd);
    }
  }
  tombstones.sort((a, b) => a.leaf_index - b.leaf_index);

  const cleanups: ManifestCleanup[] = [];
  for (const record of records.values()) {
    const audit = record.audit_event_id === null ? null : await deps.get(tenant, record.audit_event_id);
    const [auditIndex] = audit === null ? [null] : await leafIndexes(store, tenant, [audit.id]);
    const inTree = auditIndex !== null && auditIndex !== undefined && auditIndex < checkpoint.tree_size;
    cleanups.push({ ...record, audit_event: inTree ? audit : null, audit_leaf_index: inTree ? auditIndex : null });
  }

  const known = [
    ...new Set([
      ...placed,
      ...tombstones.filter((tomb) => tomb.event_hash !== null).map((tomb) => tomb.leaf_index),
      ...cleanups.flatMap((cleanup) => (cleanup.audit_leaf_index === null ? [] : [cleanup.audit_leaf_index])),
    ]),
  ].sort((a, b) => a - b);
  const proof = await multiProof(checkpoint.tree_size, known, storedSubtree(store, tenant));

  let consistency: ExportManifest['consistency'] = null;
  if (input.trustedSize !== undefined) {
    if (input.trustedSize > checkpoint.tree_size)
      throw new Conflict(`trusted_size=${input.trustedSize} is beyond the newest checkpoint (${checkpoint.tree_size})`);
    const proved = await proveConsistency(store, tenant, input.trustedSize, checkpoint.tree_size);
    consistency = { from: input.trustedSize, proof: proved.proof };
  }

  const manifest: Omit<ExportManifest, 'signed_note'> = {
    ...emptyParts(input),
    checkpoint: await deps.present(checkpoint),
    leaf_indexes: indexes,
    unsealed,
    tombstones,
    tombstone_scan: [first, scanned],
    cleanups,
    proof: hex(proof),
    consistency,
  };
  return { ...manifest, signed_note: sign(deps, tenant, manifest) };
}

function emptyParts(input: ManifestInput): Omit<ExportManifest, 'signed_note'> {
  return {
    version: 1,
    tenant_id: input.tenant,
    parameters: input.parameters,
    created_at: input.now.toISOString(),
    count: input.count,
    body_sha256: input.bodySha256,
    checkpoint: null,
    leaf_indexes: [],
    unsealed: [],
    tombstones: [],
    tombstone_scan: [0, 0],
    cleanups: [],
    proof: [],
    consistency: null,
  };
}

/** The manifest's signed note, by the log's key under its origin `<INTEGRITY_ORIGIN>/<tenant>`; null without a key. */
function sign(deps: ManifestDeps, tenant: TenantId, manifest: Omit<ExportManifest, 'signed_note'>): string | null {
  if (!deps.signer) return null;
  const key = deps.signer.key();
  const body = manifestNoteBody(`${deps.signer.name}/${tenant}`, manifest);
  return `${body}\n${signatureLine({ name: deps.signer.name, rawPublicKey: key.rawPublicKey, sign: (data) => key.signBytes(data) }, body)}\n`;
}
