import { describe, expect, it } from 'vitest';
import { merklePath, merkleRoot, verifyMerklePath } from '../../src/integrity/merkle.js';

// The RFC 6962 test vectors used by Certificate Transparency implementations (e.g. the Go
// merkle package's testdata): eight leaves, and the tree root after each of them.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((hex) =>
  Buffer.from(hex, 'hex'),
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('RFC 6962 Merkle tree', () => {
  it('gives the published root for 0 to 8 leaves', () => {
    expect(ROOTS.map((_, size) => merkleRoot(LEAVES.slice(0, size)).toString('hex'))).toEqual(ROOTS);
  });

  it('gives the published audit path of leaf 0 in the 8-leaf tree', () => {
    expect(merklePath(0, LEAVES).map((hash) => hash.toString('hex'))).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
  });

  it('proves every leaf of every tree size up to 33, and refuses a wrong leaf, index or root', () => {
    for (let size = 1; size <= 33; size++) {
      const entries = Array.from({ length: size }, (_, index) => Buffer.from([index, size]));
      const root = merkleRoot(entries);
      for (let index = 0; index < size; index++) {
        const path = merklePath(index, entries);
        expect(verifyMerklePath(entries[index] as Buffer, index, size, path, root)).toBe(true);
        expect(verifyMerklePath(Buffer.from([255]), index, size, path, root)).toBe(false);
        if (size > 1) expect(verifyMerklePath(entries[index] as Buffer, (index + 1) % size, size, path, root)).toBe(false);
        expect(verifyMerklePath(entries[index] as Buffer, index, size, path, merkleRoot([Buffer.from('x')]))).toBe(false);
      }
    }
  });

  it('refuses a leaf index outside the tree', () => {
    expect(() => merklePath(3, LEAVES.slice(0, 3))).toThrow(RangeError);
    expect(verifyMerklePath(LEAVES[0] as Buffer, 3, 3, [], merkleRoot(LEAVES.slice(0, 3)))).toBe(false);
  });
});
