import { hash } from 'node:crypto';

/**
 * One append-only RFC 9162 (RFC 6962) Merkle tree per tenant: leaf hashes, audit paths,
 * consistency proofs and a compact range that grows the tree without rereading it.
 *
 * Proof generation follows RFC 9162 §2.1.3.1 / §2.1.4.1 (PATH and SUBPROOF) over a function that
 * returns the hash of any aligned subtree, so the store decides how it finds one (leaves for
 * small subtrees, stored level-8 "tiles" for big ones). Verification is RFC 9162 §2.1.3.2 and
 * §2.1.4.2 word for word; test/integrity/tree.test.ts checks both against the published vectors.
 */

export type Hash = Buffer;

export const EMPTY_ROOT: Hash = hash('sha256', Buffer.alloc(0), 'buffer');

export function hashLeaf(entry: Uint8Array): Hash {
  return hash('sha256', Buffer.concat([Buffer.from([0]), entry]), 'buffer');
}

/** 0x01 || left || right, reused: the sealer hashes about one inner node per leaf it appends. */
const NODE_INPUT = Buffer.alloc(1 + 2 * 32);
NODE_INPUT[0] = 1;

export function hashChildren(left: Uint8Array, right: Uint8Array): Hash {
  if (left.length !== 32 || right.length !== 32) return hash('sha256', Buffer.concat([Buffer.from([1]), left, right]), 'buffer');
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 33);
  return hash('sha256', NODE_INPUT, 'buffer');
}

/**
 * The tree entry of an event: the RFC 8785 JSON of its hash and timestamp. The timestamp is in the
 * leaf so that a tombstone (the entry kept when a cleanup deletes the event) proves which time
 * range it was in, and a cleanup record that does not cover it is caught.
 */
export function leafEntry(eventHash: string, timestamp: string): Buffer {
  return Buffer.from(leafEntryText(eventHash, timestamp));
}

/**
 * The entry's RFC 8785 text, written out: an object of two strings whose keys are already in
 * code-unit order, and RFC 8785 serializes a string as JSON.stringify does. Equal to
 * canonicalJson({ hash, timestamp }) for any strings (test/integrity/tree.test.ts checks both),
 * and much cheaper: the sealer builds one per event it seals.
 */
function leafEntryText(eventHash: string, timestamp: string): string {
  return `{"hash":${JSON.stringify(eventHash)},"timestamp":${JSON.stringify(timestamp)}}`;
}

/** hashLeaf(leafEntry(...)) without the copies: the UTF-8 of "\0" is the 0x00 prefix byte. */
export const eventLeafHash = (eventHash: string, timestamp: string): Hash =>
  hash('sha256', `\u0000${leafEntryText(eventHash, timestamp)}`, 'buffer');

/** The largest power of two strictly below n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** MTH over leaf hashes already hashed as leaves (the inner nodes only). */
export function rootOfLeafHashes(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  let level = [...leaves];
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right === undefined ? (level[i] as Hash) : hashChildren(level[i] as Hash, right));
    }
    level = next;
  }
  return level[0] as Hash;
}

/** MTH of the leaves [start, end) of a tree; the store answers from what it keeps. */
export type SubtreeHash = (start: number, end: number) => Promise<Hash>;

/**
 * MTH(D[start:end]) through the recursive split; every range it asks `perfect` for is a perfect,
 * aligned subtree (a power-of-two size starting at a multiple of it).
 */
export async function rangeHash(start: number, end: number, perfect: SubtreeHash): Promise<Hash> {
  const size = end - start;
  if (size <= 0) return EMPTY_ROOT;
  if (isPowerOfTwo(size)) return perfect(start, end);
  const k = splitPoint(size);
  return hashChildren(await rangeHash(start, start + k, perfect), await rangeHash(start + k, end, perfect));
}

/** PATH(index, D[0:size]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up. */
export async function inclusionProof(index: number, size: number, perfect: SubtreeHash): Promise<Hash[]> {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf ${index} is outside a tree of ${size}`);
  const path: Hash[] = [];
  // Walk down from the root; each step records the other half, innermost first at the end.
  let start = 0;
  let end = size;
  const siblings: Hash[] = [];
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      siblings.push(await rangeHash(start + k, end, perfect));
      end = start + k;
    } else {
      siblings.push(await rangeHash(start, start + k, perfect));
      start += k;
    }
  }
  for (let i = siblings.length - 1; i >= 0; i--) path.push(siblings[i] as Hash);
  return path;
}

/** PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1. Empty when first is 0 or equals second. */
export async function consistencyProof(first: number, second: number, perfect: SubtreeHash): Promise<Hash[]> {
  if (!Number.isInteger(first) || !Number.isInteger(second) || first < 0 || first > second)
    throw new RangeError(`no consistency proof from ${first} to ${second}`);
  if (first === 0 || first === second) return [];
  const proof: Hash[] = [];
  // SUBPROOF(m, D[start:end], whole): iterative, collecting the right-hand MTHs in reverse.
  const tail: Hash[] = [];
  let m = first;
  let start = 0;
  let end = second;
  let whole = true;
  for (;;) {
    const n = end - start;
    if (m === n) {
      if (!whole) proof.push(await rangeHash(start, end, perfect));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      tail.push(await rangeHash(start + k, end, perfect));
      end = start + k;
    } else {
      tail.push(await rangeHash(start, start + k, perfect));
      start += k;
      m -= k;
      whole = false;
    }
  }
  for (let i = tail.length - 1; i >= 0; i--) proof.push(tail[i] as Hash);
  return proof;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** RFC 9162 §2.1.3.2: the root an inclusion proof gives, or null when the proof cannot be right for this index and size. */
export function rootFromInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Hash | null {
  if (index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r: Hash = Buffer.from(leafHash);
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const computed = rootFromInclusion(index, size, leafHash, proof);
  return computed !== null && same(computed, root);
}

/** RFC 9162 §2.1.4.2: true when the tree of size `second` with root2 extends the tree of size `first` with root1. */
export function verifyConsistency(
  first: number,
  second: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (first < 0 || second < first) return false;
  if (first === second) return proof.length === 0 && same(root1, root2);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== 32)) return false;
  const path = isPowerOfTwo(first) ? [Buffer.from(root1), ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Hash = Buffer.from(path[0] as Uint8Array);
  let sr: Hash = Buffer.from(path[0] as Uint8Array);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(fr, root1) && same(sr, root2);
}

/** Leaves per stored tile: the level-8 subtree hashes a store keeps so big subtrees are cheap to hash. */
export const TILE_LEAVES = 256;
const TILE_LEVEL = 8;

/**
 * The right edge of a tree (its perfect subtrees, largest first), enough to append leaves and
 * compute the root without the leaves before. Appending reports each level-8 subtree it completes.
 */
export class CompactRange {
  private constructor(
    private size: number,
    private readonly nodes: Hash[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  static from(size: number, nodes: readonly string[]): CompactRange {
    let bits = 0;
    for (let n = size; n > 0; n = Math.floor(n / 2)) bits += n % 2;
    if (bits !== nodes.length) throw new Error(`a compact range of ${size} leaves has ${bits} nodes, not ${nodes.length}`);
    return new CompactRange(
      size,
      nodes.map((node) => Buffer.from(node, 'hex')),
    );
  }

  get treeSize(): number {
    return this.size;
  }

  /** Appends one leaf hash; calls onTile(tileIndex, hash) when it completes a level-8 subtree. */
  append(leaf: Hash, onTile?: (tile: number, hash: Hash) => void): void {
    let node = leaf;
    let level = 0;
    let index = this.size;
    // A set bit at `level` of the old size means a perfect subtree of that height sits on the edge.
    while (index % 2 === 1) {
      node = hashChildren(this.nodes.pop() as Hash, node);
      level++;
      index = Math.floor(index / 2);
      if (level === TILE_LEVEL) onTile?.(index, node);
    }
    this.nodes.push(node);
    this.size++;
  }

  root(): Hash {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let root = this.nodes.at(-1) as Hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) root = hashChildren(this.nodes[i] as Hash, root);
    return root;
  }

  toJSON(): string[] {
    return this.nodes.map((node) => node.toString('hex'));
  }
}
