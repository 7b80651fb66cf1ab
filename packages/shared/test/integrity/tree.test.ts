import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
// The standalone verifier (scripts/tlog.mjs) imports nothing from the server; both must pass the vectors.
import * as standalone from '../../../../scripts/tlog.mjs';
// @logserver/client checks proofs where it runs (noble hashes, no node:crypto): the same vectors.
import * as client from '../../../client/src/tree.js';
import { canonicalJson } from '../../src/integrity/event-hash.js';
import {
  CompactRange,
  consistencyProof,
  eventLeafHash,
  hashChildren,
  hashLeaf,
  inclusionProof,
  rootOfLeafHashes,
  type SubtreeHash,
  TILE_LEAVES,
  verifyConsistency,
  verifyInclusion,
} from '../../src/integrity/tree.js';

// The RFC 6962 / RFC 9162 known-answer vectors that Certificate Transparency implementations share
// (transparency-dev/merkle proof/verify_test.go, from the CT Go and C++ suites): eight leaves, the
// root after each, inclusion proofs (1-based leaf, size) and consistency proofs (size1, size2).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map((h) => Buffer.from(h, 'hex'));
const INCLUSION: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    2,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];
const hex = (list: readonly Buffer[]) => list.map((h) => h.toString('hex'));
const fromHex = (list: readonly string[]) => list.map((h) => Buffer.from(h, 'hex'));
/** A subtree function over leaf hashes held in memory, as a store answers from its leaves. */
const overLeaves =
  (leafHashes: readonly Buffer[]): SubtreeHash =>
  async (start, end) =>
    rootOfLeafHashes(leafHashes.slice(start, end));
const LEAF_HASHES = LEAVES.map(hashLeaf);
const flipBit = (hash: Buffer, bit: number) => {
  const copy = Buffer.from(hash);
  copy.writeUInt8((copy.readUInt8(0) ^ bit) & 0xff, 0);
  return copy;
};
const verifiers = [
  { name: 'server (tree.ts)', verifyInclusion, verifyConsistency },
  { name: 'standalone (scripts/tlog.mjs)', verifyInclusion: standalone.verifyInclusion, verifyConsistency: standalone.verifyConsistency },
  { name: 'client (packages/client/src/tree.ts)', verifyInclusion: client.verifyInclusion, verifyConsistency: client.verifyConsistency },
];

describe('RFC 9162 tree against the published vectors', () => {
  it('gives the published root after each leaf, by the compact range and from the leaves', () => {
    const range = CompactRange.empty();
    LEAF_HASHES.forEach((leaf, index) => {
      range.append(leaf);
      expect(range.root().toString('hex')).toBe(ROOTS[index]?.toString('hex'));
      expect(rootOfLeafHashes(LEAF_HASHES.slice(0, index + 1))).toEqual(ROOTS[index]);
      expect(standalone.rootOfLeafHashes(LEAF_HASHES.slice(0, index + 1))).toEqual(ROOTS[index]);
    });
  });

  it('generates the published inclusion and consistency proofs', async () => {
    for (const [leaf, size, proof] of INCLUSION) {
      expect(hex(await inclusionProof(leaf - 1, size, overLeaves(LEAF_HASHES.slice(0, size))))).toEqual(proof);
    }
    for (const [first, second, proof] of CONSISTENCY) {
      expect(hex(await consistencyProof(first, second, overLeaves(LEAF_HASHES.slice(0, second))))).toEqual(proof);
    }
  });

  for (const verifier of verifiers) {
    it(`${verifier.name}: accepts every published proof and refuses each corrupted one`, () => {
      for (const [leaf, size, proof] of INCLUSION) {
        const path = fromHex(proof);
        const root = ROOTS[size - 1] as Buffer;
        const leafHash = LEAF_HASHES[leaf - 1] as Buffer;
        expect(verifier.verifyInclusion(leaf - 1, size, leafHash, path, root)).toBe(true);
        expect(verifier.verifyInclusion(leaf, size, leafHash, path, root)).toBe(false);
        expect(verifier.verifyInclusion(leaf - 1, size * 2, leafHash, path, root)).toBe(false);
        expect(verifier.verifyInclusion(leaf - 1, size, hashLeaf(Buffer.from('WrongLeaf')), path, root)).toBe(false);
        expect(verifier.verifyInclusion(leaf - 1, size, leafHash, [...path, root], root)).toBe(false);
        path.forEach((_, i) => {
          const flipped = path.map((p, j) => (j === i ? flipBit(p, 8) : p));
          expect(verifier.verifyInclusion(leaf - 1, size, leafHash, flipped, root)).toBe(false);
        });
      }
      for (const [first, second, proof] of CONSISTENCY) {
        const path = fromHex(proof);
        const [root1, root2] = [ROOTS[first - 1] as Buffer, ROOTS[second - 1] as Buffer];
        expect(verifier.verifyConsistency(first, second, root1, root2, path)).toBe(true);
        if (path.length === 0) continue;
        expect(verifier.verifyConsistency(first, second, root2, root1, path)).toBe(false);
        expect(verifier.verifyConsistency(first + 1, second, root1, root2, path)).toBe(false);
        expect(verifier.verifyConsistency(first, second, root1, root2, [])).toBe(false);
        expect(verifier.verifyConsistency(first, second, root1, root2, path.slice(0, -1))).toBe(false);
        expect(verifier.verifyConsistency(first, second, root1, root2, [...path, root2])).toBe(false);
        path.forEach((_, i) => {
          const flipped = path.map((p, j) => (j === i ? flipBit(p, 16) : p));
          expect(verifier.verifyConsistency(first, second, root1, root2, flipped)).toBe(false);
        });
      }
    });
  }

  it('proves every leaf and every pair of sizes up to 70, verified by the standalone code', async () => {
    const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from([i])));
    const roots = leaves.map((_, i) => rootOfLeafHashes(leaves.slice(0, i + 1)));
    for (let size = 1; size <= 70; size++) {
      for (let index = 0; index < size; index += 7) {
        const path = await inclusionProof(index, size, overLeaves(leaves));
        expect(standalone.verifyInclusion(index, size, leaves[index] as Buffer, path, roots[size - 1] as Buffer)).toBe(true);
      }
      for (let first = 1; first <= size; first += 3) {
        const proof = await consistencyProof(first, size, overLeaves(leaves));
        expect(standalone.verifyConsistency(first, size, roots[first - 1] as Buffer, roots[size - 1] as Buffer, proof)).toBe(true);
      }
    }
  });

  it('reports each completed 256-leaf tile while appending, with the subtree hash of those leaves', () => {
    const leaves = Array.from({ length: 1000 }, (_, i) => hashLeaf(Buffer.from(String(i))));
    const range = CompactRange.empty();
    const tiles: [number, string][] = [];
    for (const leaf of leaves) range.append(leaf, (tile, hash) => tiles.push([tile, hash.toString('hex')]));
    expect(tiles).toEqual(
      [0, 1, 2].map((tile) => [tile, rootOfLeafHashes(leaves.slice(tile * TILE_LEAVES, (tile + 1) * TILE_LEAVES)).toString('hex')]),
    );
    const restored = CompactRange.from(range.treeSize, range.toJSON());
    restored.append(hashLeaf(Buffer.from('next')));
    expect(restored.root()).toEqual(rootOfLeafHashes([...leaves, hashLeaf(Buffer.from('next'))]));
  });

  it('writes the event leaf as RFC 8785 says and hashes inner nodes as RFC 9162 says, also for awkward strings', () => {
    // eventLeafHash writes the entry out by hand and hashChildren reuses a buffer (both for speed): the same bytes as the plain forms.
    const awkward = ['', 'é', '"quoted"\\', '\u0000\u001f\u007f', '\u2028\u2029', '😀 ü', '2026-12-01T10:00:00.000Z'];
    for (const a of awkward) {
      for (const b of awkward) {
        const plain = hashLeaf(Buffer.from(canonicalJson({ hash: a, timestamp: b })));
        expect(eventLeafHash(a, b).toString('hex')).toBe(plain.toString('hex'));
        expect(Buffer.from(client.eventLeafHash(a, b)).toString('hex')).toBe(plain.toString('hex'));
      }
    }
    const left = hashLeaf(Buffer.from('left'));
    const right = hashLeaf(Buffer.from('right'));
    // RFC 9162 §2.1.1: SHA-256(0x01 || left || right), computed here without the shared buffer.
    const plainNode = (l: Buffer, r: Buffer) =>
      createHash('sha256')
        .update(Buffer.concat([Buffer.from([1]), l, r]))
        .digest();
    expect(hashChildren(left, right)).toEqual(plainNode(left, right));
    expect(hashChildren(right, left)).toEqual(plainNode(right, left));
    const kept = hashChildren(left, right);
    hashChildren(right, left);
    expect(kept).toEqual(plainNode(left, right)); // a result does not share the reused input buffer
  });
});
