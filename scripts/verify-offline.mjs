#!/usr/bin/env node
// Checks a tenant's exported events against its signed checkpoints without trusting the server.
//
//   node scripts/verify-offline.mjs fetch --url http://localhost:8080 --token <auditor token> --out ./audit
//   node scripts/verify-offline.mjs check ./audit [--partial] [--trusted-checkpoint note.txt] [--witness-key VKEY]
//        (events.ndjson, checkpoints.json with leaves and tombstones, keys.json: the tenant tree)
//   node scripts/verify-offline.mjs check-export export.ndjson --keys keys.json [--trusted-checkpoint note.txt] [--witness-key VKEY]
//        (GET /api/v1/logs/export?manifest=true: the export proves itself against its checkpoint)
//   node scripts/verify-offline.mjs check --events e.ndjson --digests d.json --public-key k.pem [--partial]
//        (digest-v1 data, sealed before checkpoints)
//
// `check` needs no server and no code of the server: it re-implements the checks from the
// published rules (RFC 8785 JSON, SHA-256, RFC 6962 Merkle tree, Ed25519), so an auditor can read
// all of it here. Exit 0 when intact, 1 when something does not hold, 2 on bad usage.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import canonicalize from 'canonicalize';
import {
  checkCheckpointNote,
  eventLeafHash,
  fromHex,
  hasCosignature,
  noteKeyHash,
  parseVerifierKey,
  publicKeyFromRaw,
  rootFromMultiProof,
  rootOfLeafHashes,
  splitNote,
  verifyConsistency,
} from './tlog.mjs';

const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** RFC 6962 §2.1: leaf = H(0x00 || entry), node = H(0x01 || left || right), split at the largest power of two below n. */
function merkleRoot(entries) {
  if (entries.length === 0) return sha256();
  if (entries.length === 1) return sha256(Buffer.from([0]), entries[0]);
  let k = 1;
  while (k * 2 < entries.length) k *= 2;
  return sha256(Buffer.from([1]), merkleRoot(entries.slice(0, k)), merkleRoot(entries.slice(k)));
}

function eventHash(event) {
  const { hash: _hash, ...content } = event;
  return createHash('sha256').update(canonicalize(content)).digest('hex');
}

/**
 * The server's mark on a cleanup's audit event (docs/tamper-evidence.md "Retention keeps proofs"):
 * `metadata.signature` = {kid, sig}, Ed25519 by a key of the ring whose window holds the event's
 * time, over the RFC 8785 JSON of what the cleanup did. Null when it holds, else what is wrong.
 */
function cleanupSignatureProblem(audit, jwks) {
  const { kid, sig } = audit.metadata?.signature ?? {};
  if (typeof kid !== 'string' || typeof sig !== 'string') return 'its signature is not {kid, sig}';
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) return `its signature names key ${kid}, which is not in the key ring`;
  if ((jwk.not_before && audit.timestamp < jwk.not_before) || (jwk.not_after && audit.timestamp >= jwk.not_after))
    return `its signature is by key ${kid}, whose window does not hold ${audit.timestamp}`;
  const statement = canonicalize({
    purpose: 'logserver cleanup v1',
    tenant: audit.tenant_id,
    id: audit.id,
    timestamp: audit.timestamp,
    before: audit.metadata?.before ?? null,
    deleted_count: audit.metadata?.deleted_count,
    by: audit.metadata?.by === 'policy' ? 'policy' : 'request',
  });
  let valid = false;
  try {
    valid = verify(null, Buffer.from(statement), publicKeyFromRaw(Buffer.from(jwk.x, 'base64url')), Buffer.from(sig, 'base64'));
  } catch {
    valid = false;
  }
  return valid ? null : 'its signature does not verify: the record was not written by the server, or was changed';
}

/**
 * Judges cleanups' audit events (given with their leaf indexes) by the server's mark: a signature
 * must hold, and an unsigned one after the first signed cleanup of the same decider (request or
 * policy) was written into the store, not by the server. An audit event backs one cleanup only.
 */
function cleanupMarkJudge(audits, jwks) {
  const byOf = (audit) => (audit.metadata?.by === 'policy' ? 'policy' : 'request');
  const first = new Map();
  const uses = new Map();
  for (const { audit, leaf } of audits) {
    uses.set(audit.id, (uses.get(audit.id) ?? 0) + 1);
    if (audit.metadata?.signature === undefined || cleanupSignatureProblem(audit, jwks) !== null) continue;
    if (leaf < (first.get(byOf(audit)) ?? Number.POSITIVE_INFINITY)) first.set(byOf(audit), leaf);
  }
  return (audit, leaf) => {
    if ((uses.get(audit.id) ?? 0) > 1) return `its audit event ${audit.id} backs another cleanup record too`;
    if (audit.metadata?.signature !== undefined) return cleanupSignatureProblem(audit, jwks);
    const since = first.get(byOf(audit));
    return since !== undefined && leaf > since
      ? `its audit event is not signed, but the server has signed its ${byOf(audit)} cleanups since leaf ${since}`
      : null;
  };
}

/** Every check; returns the report. Pure over its inputs so the tests can call it too. */
export function checkExport({ events, digests, publicKeyPem, partial = false }) {
  const key = createPublicKey(publicKeyPem);
  const keyId = createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 32);
  const problems = [];
  let chainBreak = null;
  const byId = new Map(events.map((event) => [event.id, event]));
  const sealedIds = new Set();
  let previous = null;
  let verified = 0;
  let missing = 0;
  const ordered = [...digests].sort((a, b) => a.seq - b.seq);
  for (const digest of ordered) {
    const { hash, signature, leaves, ...body } = digest;
    const text = canonicalize(body);
    const expectedSeq = previous ? previous.seq + 1 : 1;
    const broken =
      digest.seq !== expectedSeq
        ? `digest ${expectedSeq} is missing before digest ${digest.seq}`
        : digest.prev_hash !== (previous ? previous.hash : null)
          ? `its prev_hash does not match digest ${previous ? previous.seq : 0}`
          : createHash('sha256').update(text).digest('hex') !== hash
            ? 'its hash does not match its contents'
            : digest.key_id !== keyId
              ? `it is signed by key ${digest.key_id}, not by ${keyId}`
              : !verify(null, Buffer.from(text), key, Buffer.from(signature, 'base64'))
                ? 'its signature does not verify'
                : !leaves || leaves.ids.length !== digest.count || leaves.hashes.length !== digest.count
                  ? 'its sealed event list is missing or the wrong length'
                  : merkleRoot(leaves.hashes.map((h) => Buffer.from(h, 'hex'))).toString('hex') !== digest.merkle_root
                    ? 'its sealed event hashes do not give its Merkle root'
                    : null;
    if (broken) chainBreak ??= { digest_seq: digest.seq, reason: broken };
    previous = digest;
    if (!leaves) continue;
    leaves.ids.forEach((id, index) => {
      sealedIds.add(id);
      const event = byId.get(id);
      if (!event) {
        missing++;
        if (!partial)
          problems.push({
            kind: 'removed',
            event_id: id,
            digest_seq: digest.seq,
            detail: `sealed as number ${index + 1} of digest ${digest.seq}, not in the export`,
          });
      } else if (eventHash(event) !== leaves.hashes[index]) {
        problems.push({
          kind: 'changed',
          event_id: id,
          digest_seq: digest.seq,
          detail: 'its content does not give the hash it was sealed with',
        });
      } else verified++;
    });
  }
  // An exported event no digest sealed: fine if it arrived after the last seal, else it was slipped in.
  const lastSeal = previous ? previous.sealed_at : null;
  let unsealed = 0;
  for (const event of events) {
    if (sealedIds.has(event.id)) continue;
    if (lastSeal !== null && event.received_at < lastSeal) {
      problems.push({
        kind: 'inserted',
        event_id: event.id,
        digest_seq: null,
        detail: `received ${event.received_at}, before the last seal (${lastSeal}), yet sealed by no digest`,
      });
    } else unsealed++;
  }
  return {
    status: problems.length === 0 && chainBreak === null ? 'intact' : 'tampered',
    digests_checked: ordered.length,
    events_in_export: events.length,
    events_verified: verified,
    events_unsealed: unsealed,
    sealed_events_not_in_export: missing,
    first_problem: problems[0] ?? null,
    problems: problems.slice(0, 20),
    problem_count: problems.length,
    chain: { intact: chainBreak === null, first_break: chainBreak },
  };
}

/**
 * Checks a checkpoint bundle (events, every checkpoint with its leaves and tombstones, the key ring):
 * rebuilds the tenant's tree from the leaves, so every checkpoint's root (and so the consistency of
 * each with the one before) is recomputed; checks every note under the key ring and its windows;
 * each exported event against its leaf; each leaf not exported against a tombstone whose cleanup
 * covers it (its logs.cleanup audit event is in the export and says the same); and, when given, that
 * the tree still extends a trusted checkpoint and that the newest is cosigned by each witness key.
 */
export function checkTreeBundle({ events, checkpoints, jwks, logName = 'logserver', partial = false, trusted = null, witnesses = [] }) {
  const problems = [];
  let treeBreak = null;
  const breakAt = (tree_size, reason) => {
    treeBreak ??= { tree_size, reason };
  };
  const byId = new Map(events.map((event) => [event.id, event]));
  const leaves = [];
  const placed = new Map();
  const tombstones = new Map();
  let previousTime = null;
  let previousSize = 0;
  const ordered = [...checkpoints].sort((a, b) => a.tree_size - b.tree_size);
  for (const checkpoint of ordered) {
    const checked = checkCheckpointNote(checkpoint.note, jwks, logName);
    if ('problem' in checked) breakAt(checkpoint.tree_size, checked.problem);
    else if (checked.checkpoint.size !== checkpoint.tree_size) breakAt(checkpoint.tree_size, 'its note gives another size');
    if (previousTime !== null && checkpoint.time < previousTime) breakAt(checkpoint.tree_size, 'its time goes back');
    previousTime = checkpoint.time;
    const batch = checkpoint.leaves;
    if (!batch || checkpoint.tree_size - batch.ids.length !== previousSize) {
      breakAt(checkpoint.tree_size, 'its leaves are missing or do not follow the checkpoint before');
      break;
    }
    batch.ids.forEach((id, offset) => {
      placed.set(id, previousSize + offset);
      leaves.push(Buffer.from(batch.hashes[offset], 'hex'));
    });
    for (const tomb of batch.tombstones) tombstones.set(tomb.event_id, tomb);
    previousSize = checkpoint.tree_size;
    if (!('problem' in checked) && !rootOfLeafHashes(leaves).equals(checked.checkpoint.root))
      breakAt(checkpoint.tree_size, 'its leaves, appended to the tree before it, do not give its root');
  }
  const size = leaves.length;
  // A checkpoint the auditor kept: the tree must be at least that big and give the same root there.
  if (trusted) {
    if (trusted.size > size) breakAt(size, `rolled back: the trusted checkpoint has size ${trusted.size}, the bundle's tree ${size}`);
    else if (!rootOfLeafHashes(leaves.slice(0, trusted.size)).equals(trusted.root))
      breakAt(trusted.size, `split view: the tree at size ${trusted.size} does not give the trusted checkpoint's root`);
  }
  const newest = ordered.at(-1);
  for (const witness of witnesses) {
    const note = newest ? splitNote(newest.signed_note ?? newest.note) : null;
    const cosigned = note?.signatures.some((s) => s.name === witness.name && s.keyHash.equals(witness.keyHash));
    if (!cosigned) breakAt(newest?.tree_size ?? 0, `the newest checkpoint is not cosigned by witness ${witness.name}`);
  }
  // Tombstones per cleanup, to hold against what its audit event says it deleted.
  const perCleanup = new Map();
  for (const tomb of tombstones.values()) perCleanup.set(tomb.cleanup_id, (perCleanup.get(tomb.cleanup_id) ?? 0) + 1);
  // Each cleanup's audit event once, with its leaf, for the server's mark.
  const cleanupAudits = new Map();
  for (const tomb of tombstones.values()) {
    const audit = tomb.cleanup_audit_event_id ? byId.get(tomb.cleanup_audit_event_id) : undefined;
    if (audit && !cleanupAudits.has(tomb.cleanup_id))
      cleanupAudits.set(tomb.cleanup_id, { audit, leaf: placed.get(audit.id) ?? Number.POSITIVE_INFINITY });
  }
  const markProblem = cleanupMarkJudge([...cleanupAudits.values()], jwks);
  let verified = 0;
  let deletedByCleanup = 0;
  let missing = 0;
  for (const [id, index] of placed) {
    const event = byId.get(id);
    if (event) {
      if (eventLeafHash(eventHash(event), event.timestamp).equals(leaves[index])) verified++;
      else problems.push({ kind: 'changed', event_id: id, leaf_index: index, detail: 'its content does not give its leaf' });
      continue;
    }
    const tomb = tombstones.get(id);
    if (tomb) {
      const audit = tomb.cleanup_audit_event_id ? byId.get(tomb.cleanup_audit_event_id) : undefined;
      const auditIndex = audit ? (placed.get(audit.id) ?? Number.POSITIVE_INFINITY) : -1;
      const reason =
        !tomb.event_hash || !eventLeafHash(tomb.event_hash, tomb.timestamp).equals(leaves[index])
          ? 'its tombstone does not give its leaf'
          : tomb.cleanup_before !== null && !(tomb.timestamp < tomb.cleanup_before)
            ? `cleanup ${tomb.cleanup_id} deleted before ${tomb.cleanup_before}; this event is from ${tomb.timestamp}`
            : !audit
              ? `the audit event of cleanup ${tomb.cleanup_id} is not in the export`
              : audit.action !== 'logs.cleanup' ||
                  (audit.metadata?.before ?? null) !== tomb.cleanup_before ||
                  audit.metadata?.deleted_count !== tomb.cleanup_deleted_count
                ? `the audit event of cleanup ${tomb.cleanup_id} does not record it`
                : perCleanup.get(tomb.cleanup_id) !== tomb.cleanup_deleted_count
                  ? `cleanup ${tomb.cleanup_id} says it deleted ${tomb.cleanup_deleted_count}, ${perCleanup.get(tomb.cleanup_id)} tombstones name it`
                  : auditIndex <= index
                    ? `cleanup ${tomb.cleanup_id} was logged before this event`
                    : markProblem(audit, auditIndex) !== null
                      ? `cleanup ${tomb.cleanup_id}: ${markProblem(audit, auditIndex)}`
                      : null;
      if (reason === null) deletedByCleanup++;
      else problems.push({ kind: 'removed', event_id: id, leaf_index: index, detail: `leaf ${index} is not in the export; ${reason}` });
      continue;
    }
    missing++;
    if (!partial)
      problems.push({
        kind: 'removed',
        event_id: id,
        leaf_index: index,
        detail: `leaf ${index} is not in the export and no cleanup left a tombstone`,
      });
  }
  let unsealed = 0;
  for (const event of events) {
    if (placed.has(event.id)) continue;
    if (newest && event.received_at < newest.time)
      problems.push({
        kind: 'inserted',
        event_id: event.id,
        leaf_index: null,
        detail: `received ${event.received_at}, before the newest checkpoint (${newest.time}), yet a leaf of no checkpoint`,
      });
    else unsealed++;
  }
  problems.sort((a, b) => (a.leaf_index ?? Number.MAX_SAFE_INTEGER) - (b.leaf_index ?? Number.MAX_SAFE_INTEGER));
  return {
    status: problems.length === 0 && treeBreak === null ? 'intact' : 'tampered',
    checkpoints_checked: ordered.length,
    tree_size: size,
    events_in_export: events.length,
    events_verified: verified,
    events_unsealed: unsealed,
    deleted_by_cleanup: deletedByCleanup,
    sealed_events_not_in_export: missing,
    first_problem: problems[0] ?? null,
    problems: problems.slice(0, 20),
    problem_count: problems.length,
    tree: { intact: treeBreak === null, first_break: treeBreak },
  };
}

/**
 * An export with manifest=true (its last line `{"manifest": …}`): the body against the manifest's count
 * and SHA-256, every event's content against its hash, the checkpoint's note and key window, the
 * exported events, the listed tombstones and their cleanups' audit events as leaves that, with the
 * manifest's multi-leaf proof, give the checkpoint's root; each tombstone honoured only when its
 * cleanup covers its time and that cleanup's own audit event (a leaf after it) says so; the
 * manifest's signed note; a trusted checkpoint through the consistency proof; witness cosignatures.
 */
export function checkManifestExport({ text, jwks, logName = 'logserver', trusted = null, witnesses = [] }) {
  const problems = [];
  const problem = (kind, detail, extra = {}) => problems.push({ kind, detail, ...extra });
  const cut = text.endsWith('\n') ? text.slice(0, -1).lastIndexOf('\n') + 1 : text.lastIndexOf('\n') + 1;
  const bodyText = text.slice(0, cut);
  let manifest;
  try {
    manifest = JSON.parse(text.slice(cut)).manifest;
  } catch {
    manifest = undefined;
  }
  if (!manifest || typeof manifest !== 'object') throw new Error('the last line is not {"manifest": …}: export with manifest=true');
  const lines = bodyText.split('\n').filter((line) => line !== '');
  const events = lines.map((line) => JSON.parse(line));
  if (createHash('sha256').update(bodyText).digest('hex') !== manifest.body_sha256)
    problem('body', 'the event lines do not give the SHA-256 the manifest states: the body was changed, cut or added to');
  if (events.length !== manifest.count) problem('body', `${events.length} event lines, the manifest says ${manifest.count}`);
  if (!Array.isArray(manifest.leaf_indexes) || manifest.leaf_indexes.length !== events.length)
    problem('body', 'the manifest does not place every event line');

  // No checkpoint: nothing of the tenant was sealed when it was exported; every event is unproven.
  const checked = manifest.checkpoint ? checkCheckpointNote(manifest.checkpoint.note, jwks, logName) : { problem: null };
  const size = 'problem' in checked ? 0 : checked.checkpoint.size;
  if (manifest.checkpoint && 'problem' in checked) problem('checkpoint', `the manifest's checkpoint: ${checked.problem}`);
  else if (manifest.checkpoint && checked.checkpoint.size !== manifest.checkpoint.tree_size)
    problem('checkpoint', 'its note gives another size');

  const known = new Map();
  const place = (index, leaf, what) => {
    if (!Number.isInteger(index) || index < 0 || index >= size)
      return problem('placed', `${what} is placed at ${index}, outside the tree of ${size}`);
    if (known.has(index) && !known.get(index).equals(leaf))
      return problem('placed', `${what} and another leaf are both placed at ${index}`);
    known.set(index, leaf);
  };
  let verified = 0;
  let unsealed = 0;
  events.forEach((event, at) => {
    const recomputed = eventHash(event);
    if (recomputed !== event.hash)
      problem('changed', 'its content does not give its hash: changed after it was stored', { event_id: event.id });
    const index = manifest.leaf_indexes?.[at];
    if (index === null || index === undefined) {
      unsealed++;
      return;
    }
    place(index, eventLeafHash(recomputed, event.timestamp), `event ${event.id}`);
    verified++;
  });

  const cleanups = new Map((manifest.cleanups ?? []).map((cleanup) => [cleanup.cleanup_id, cleanup]));
  for (const cleanup of cleanups.values()) {
    if (cleanup.audit_event && cleanup.audit_leaf_index !== null)
      place(
        cleanup.audit_leaf_index,
        eventLeafHash(eventHash(cleanup.audit_event), cleanup.audit_event.timestamp),
        `the audit event of cleanup ${cleanup.cleanup_id}`,
      );
  }
  const markProblem = cleanupMarkJudge(
    [...cleanups.values()]
      .filter((cleanup) => cleanup.audit_event)
      .map((cleanup) => ({ audit: cleanup.audit_event, leaf: cleanup.audit_leaf_index ?? Number.POSITIVE_INFINITY })),
    jwks,
  );
  let honoured = 0;
  const [scanStart, scanEnd] = manifest.tombstone_scan ?? [0, 0];
  for (const tomb of manifest.tombstones ?? []) {
    const cleanup = cleanups.get(tomb.cleanup_id);
    const audit = cleanup?.audit_event;
    const reason = !tomb.event_hash
      ? 'it keeps no leaf entry'
      : tomb.leaf_index < scanStart || tomb.leaf_index >= scanEnd
        ? `leaf ${tomb.leaf_index} is outside the scanned range`
        : !cleanup
          ? `cleanup ${tomb.cleanup_id} is not in the manifest`
          : cleanup.before !== null && !(tomb.timestamp < cleanup.before)
            ? `cleanup ${cleanup.cleanup_id} deleted before ${cleanup.before}; this event is from ${tomb.timestamp}`
            : !audit || cleanup.audit_leaf_index === null
              ? `the audit event of cleanup ${cleanup.cleanup_id} is not in the tree`
              : audit.action !== 'logs.cleanup' ||
                  audit.resource_type !== 'logs' ||
                  (audit.metadata?.before ?? null) !== cleanup.before ||
                  audit.metadata?.deleted_count !== cleanup.deleted_count
                ? `the audit event of cleanup ${cleanup.cleanup_id} does not record it`
                : cleanup.audit_leaf_index <= tomb.leaf_index
                  ? `cleanup ${cleanup.cleanup_id} was logged before this event`
                  : markProblem(audit, cleanup.audit_leaf_index) !== null
                    ? `cleanup ${cleanup.cleanup_id}: ${markProblem(audit, cleanup.audit_leaf_index)}`
                    : null;
    if (tomb.event_hash) place(tomb.leaf_index, eventLeafHash(tomb.event_hash, tomb.timestamp), `tombstone ${tomb.event_id}`);
    if (reason === null) honoured++;
    else problem('removed', `leaf ${tomb.leaf_index} was deleted; ${reason}`, { event_id: tomb.event_id, leaf_index: tomb.leaf_index });
  }

  if (!('problem' in checked)) {
    const root = rootFromMultiProof(
      size,
      known,
      (manifest.proof ?? []).map((h) => Buffer.from(h, 'hex')),
    );
    if (root === null || !root.equals(checked.checkpoint.root))
      problem(
        'tree',
        "the exported events, tombstones and proof do not give the checkpoint's root: an event was changed, inserted, reordered or left out of the tree",
      );
  }
  if (trusted) {
    if (trusted.size > size) problem('rollback', `the trusted checkpoint has size ${trusted.size}, the manifest's ${size}`);
    else if (!manifest.consistency || manifest.consistency.from !== trusted.size)
      problem('consistency', `the manifest has no consistency proof from size ${trusted.size}: export with trusted_size=${trusted.size}`);
    else if (
      !('problem' in checked) &&
      !verifyConsistency(trusted.size, size, trusted.root, checked.checkpoint.root, fromHex(manifest.consistency.proof))
    )
      problem('split view', `the checkpoint of size ${size} does not extend the trusted checkpoint of size ${trusted.size}`);
  }
  for (const witness of witnesses) {
    const note = splitNote(manifest.checkpoint?.signed_note ?? '');
    if (!note || !hasCosignature(note.body, note.signatures, witness))
      problem('witness', `the checkpoint is not cosigned by witness ${witness.name}`);
  }
  let signed = false;
  if (manifest.signed_note) {
    const { signed_note: _note, ...rest } = manifest;
    const split = splitNote(manifest.signed_note);
    const lines = split?.body.split('\n') ?? [];
    const digest = createHash('sha256').update(canonicalize(rest)).digest('base64');
    const key =
      split &&
      jwks.keys.find((jwk) =>
        split.signatures.some((s) => s.name === logName && s.keyHash.equals(noteKeyHash(logName, 1, Buffer.from(jwk.x, 'base64url')))),
      );
    const signature =
      key && split.signatures.find((s) => s.name === logName && s.keyHash.equals(noteKeyHash(logName, 1, Buffer.from(key.x, 'base64url'))));
    const time = lines[3]?.startsWith('time ') ? lines[3].slice(5) : '';
    if (!split || lines[1] !== 'export-manifest' || lines[2] !== digest || time !== manifest.created_at)
      problem('manifest', 'its signed note is not over this manifest');
    else if (!key || !verify(null, Buffer.from(split.body), publicKeyFromRaw(Buffer.from(key.x, 'base64url')), signature.payload))
      problem('manifest', 'its signed note is not signed by a key of the key ring');
    else if ((key.not_before && time < key.not_before) || (key.not_after && time >= key.not_after))
      problem('manifest', `it is signed by key ${key.kid} at ${time}, outside that key's window`);
    else signed = true;
  }
  const status = problems.length > 0 ? 'tampered' : unsealed > 0 ? 'unproven' : 'intact';
  return {
    status,
    checkpoint: size,
    events_in_export: events.length,
    events_verified: verified,
    events_unsealed: unsealed,
    tombstones_honoured: honoured,
    manifest_signed: signed,
    first_problem: problems[0] ?? null,
    problems: problems.slice(0, 20),
    problem_count: problems.length,
  };
}

async function getJson(url, token) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Downloads what `check` needs: the public key, every digest with its leaves, every event. */
async function fetchBundle({ url, token, out }) {
  mkdirSync(out, { recursive: true });
  const key = (await getJson(`${url}/api/v1/integrity/public-key`, token)).data;
  writeFileSync(join(out, 'public-key.pem'), key.public_key_pem);
  const digests = [];
  for (let page = 1; ; page++) {
    const body = await getJson(`${url}/api/v1/integrity/digests?leaves=true&size=10&page=${page}`, token);
    digests.push(...body.data);
    if (page >= body.meta.pages) break;
  }
  writeFileSync(join(out, 'digests.json'), JSON.stringify(digests));
  const response = await fetch(`${url}/api/v1/integrity/keys`, { headers: { authorization: `Bearer ${token}` } });
  const checkpoints = [];
  if (response.ok) {
    writeFileSync(join(out, 'keys.json'), JSON.stringify(await response.json()));
    for (let page = 1; ; page++) {
      const body = await getJson(`${url}/api/v1/integrity/checkpoints?leaves=true&size=10&page=${page}`, token);
      checkpoints.push(...body.data);
      if (page >= body.meta.pages) break;
    }
    writeFileSync(join(out, 'checkpoints.json'), JSON.stringify(checkpoints));
  }
  const exported = await fetch(`${url}/api/v1/logs/export?format=ndjson`, { headers: { authorization: `Bearer ${token}` } });
  let lines;
  if (exported.ok) lines = (await exported.text()).split('\n').filter((line) => line.trim() !== '');
  else {
    // Servers without the export route: page through the list API instead.
    lines = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ size: '100', sort: 'asc', ...(cursor ? { cursor } : {}) });
      const body = await getJson(`${url}/api/v1/logs?${query}`, token);
      lines.push(...body.data.map((event) => JSON.stringify(event)));
      cursor = body.meta.next_cursor;
    } while (cursor);
  }
  writeFileSync(join(out, 'events.ndjson'), `${lines.join('\n')}\n`);
  process.stderr.write(
    `wrote ${lines.length} events, ${digests.length} digests, ${checkpoints.length} checkpoints and the keys to ${out}\n`,
  );
}

function readEvents(file) {
  const text = readFileSync(file, 'utf8');
  if (text.trim().startsWith('[')) return JSON.parse(text);
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

function readBundle(values, dir) {
  const path = (name, fallback) => values[name] ?? (dir ? join(dir, fallback) : undefined);
  const files = {
    events: path('events', 'events.ndjson'),
    digests: path('digests', 'digests.json'),
    key: path('public-key', 'public-key.pem'),
  };
  for (const [name, file] of Object.entries(files))
    if (!file) throw new UsageError(`missing --${name === 'key' ? 'public-key' : name} (or a folder)`);
  const text = readFileSync(files.events, 'utf8');
  const events = text.trim().startsWith('[')
    ? JSON.parse(text)
    : text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line));
  return { events, digests: JSON.parse(readFileSync(files.digests, 'utf8')), publicKeyPem: readFileSync(files.key, 'utf8') };
}

class UsageError extends Error {}

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      out: { type: 'string' },
      events: { type: 'string' },
      digests: { type: 'string' },
      'public-key': { type: 'string' },
      partial: { type: 'boolean', default: false },
      'trusted-checkpoint': { type: 'string' },
      'witness-key': { type: 'string', multiple: true },
      'log-name': { type: 'string', default: 'logserver' },
      keys: { type: 'string' },
    },
  });
  const [command, dir] = positionals;
  const trustedFrom = (jwks) => {
    if (!values['trusted-checkpoint']) return null;
    const checked = checkCheckpointNote(readFileSync(values['trusted-checkpoint'], 'utf8'), jwks, values['log-name']);
    if ('problem' in checked) throw new UsageError(`--trusted-checkpoint does not verify: ${checked.problem}`);
    return checked.checkpoint;
  };
  if (command === 'check-export') {
    if (!dir || !values.keys)
      throw new UsageError('check-export needs the export file (manifest=true) and --keys (GET /api/v1/integrity/keys)');
    const jwks = JSON.parse(readFileSync(values.keys, 'utf8'));
    const report = checkManifestExport({
      text: readFileSync(dir, 'utf8'),
      jwks,
      logName: values['log-name'],
      trusted: trustedFrom(jwks),
      witnesses: (values['witness-key'] ?? []).map(parseVerifierKey),
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.status === 'intact' ? 0 : 1;
  }
  if (command === 'fetch') {
    if (!values.url || !values.token || !values.out) throw new UsageError('fetch needs --url, --token (auditor or admin) and --out');
    await fetchBundle({ url: values.url.replace(/\/$/, ''), token: values.token, out: values.out });
    return 0;
  }
  if (command === 'check' && dir && existsSync(join(dir, 'checkpoints.json'))) {
    const events = readEvents(join(dir, 'events.ndjson'));
    const trustedNote = values['trusted-checkpoint'] ? readFileSync(values['trusted-checkpoint'], 'utf8') : null;
    const jwks = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8'));
    let trusted = null;
    if (trustedNote !== null) {
      const checked = checkCheckpointNote(trustedNote, jwks, values['log-name']);
      if ('problem' in checked) throw new UsageError(`--trusted-checkpoint does not verify: ${checked.problem}`);
      trusted = checked.checkpoint;
    }
    const report = checkTreeBundle({
      events,
      checkpoints: JSON.parse(readFileSync(join(dir, 'checkpoints.json'), 'utf8')),
      jwks,
      logName: values['log-name'],
      partial: values.partial,
      trusted,
      witnesses: (values['witness-key'] ?? []).map(parseVerifierKey),
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.status === 'intact' ? 0 : 1;
  }
  if (command === 'check') {
    const report = checkExport({ ...readBundle(values, dir), partial: values.partial });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.status === 'intact' ? 0 : 1;
  }
  throw new UsageError(
    'usage: verify-offline.mjs fetch --url URL --token TOKEN --out DIR | check DIR [--partial] [--trusted-checkpoint NOTE_FILE] [--witness-key VKEY]... | check-export EXPORT.ndjson --keys KEYS.json [--trusted-checkpoint NOTE_FILE] [--witness-key VKEY]...',
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
