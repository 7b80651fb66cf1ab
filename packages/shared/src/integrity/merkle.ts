import { hash } from 'node:crypto';

/**
 * RFC 6962 (Certificate Transparency) Merkle tree hash over SHA-256, with its audit paths.
 *
 * Why a small function instead of a package: the npm Merkle packages (merkletreejs and kin)
 * hash leaves and nodes the same way, without RFC 6962's 0x00/0x01 prefixes, so a node can be
 * passed off as a leaf (second preimage), and they duplicate or promote odd nodes in ways
 * that differ by option. RFC 6962 fixes every one of those choices, has published test
 * vectors (test/integrity/merkle.test.ts checks them) and proofs any CT library can verify.
 */

// A seal hashes about two nodes per event, so the inputs are laid out in reused scratch buffers
// (no allocation per node) and hashed with the one-shot crypto.hash.
const scratch = Buffer.alloc(65);

/** The leaf hash of one entry: here the entry is the 32-byte event hash. */
export function leafHash(entry: Uint8Array): Buffer {
  if (entry.length > 64) return hash('sha256', Buffer.concat([Buffer.from([0]), entry]), 'buffer');
  scratch[0] = 0;
  scratch.set(entry, 1);
  return hash('sha256', scratch.subarray(0, entry.length + 1), 'buffer');
}

function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  scratch[0] = 1;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return hash('sha256', scratch, 'buffer');
}

const emptyHash = (): Buffer => hash('sha256', Buffer.alloc(0), 'buffer');

/** The largest power of two strictly below n (n >= 2): RFC 6962's split point. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) of RFC 6962 §2.1 over the given entries; the empty tree hashes to SHA-256(""). */
export function merkleRoot(entries: readonly Uint8Array[]): Buffer {
  if (entries.length === 0) return emptyHash();
  // Bottom-up over levels gives the same tree as the recursive definition: an odd node at the
  // end of a level is carried up unchanged, which is what the power-of-two split does.
  let level: Buffer[] = entries.map(leafHash);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      const right = level[i + 1];
      next.push(right === undefined ? left : nodeHash(left, right));
    }
    level = next;
  }
  return level[0] as Buffer;
}

/** PATH(m, D[n]) of RFC 6962 §2.1.1: the sibling hashes from the leaf up to the root. */
export function merklePath(index: number, entries: readonly Uint8Array[]): Buffer[] {
  if (index < 0 || index >= entries.length) throw new RangeError(`leaf ${index} is outside a tree of ${entries.length}`);
  if (entries.length === 1) return [];
  const k = split(entries.length);
  if (index < k) return [...merklePath(index, entries.slice(0, k)), merkleRoot(entries.slice(k))];
  return [...merklePath(index - k, entries.slice(k)), merkleRoot(entries.slice(0, k))];
}

/** Recomputes the root from one entry and its audit path (RFC 9162 §2.1.3.2); true when it matches. */
export function verifyMerklePath(entry: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(entry);
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && Buffer.compare(r, Buffer.from(root)) === 0;
}
