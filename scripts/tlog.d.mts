// Types for scripts/tlog.mjs (plain JavaScript so an auditor runs it with node alone).
export function hashLeaf(entry: Uint8Array): Buffer;
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer;
export function eventHash(event: object): string;
export function eventLeafHash(hash: string, timestamp: string): Buffer;
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean;
export function verifyConsistency(
  first: number,
  second: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean;
export function rootOfLeafHashes(leaves: readonly Uint8Array[]): Buffer;
export function rootFromMultiProof(size: number, known: Map<number, Uint8Array>, hashes: readonly Uint8Array[]): Buffer | null;
export interface ParsedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
  time: string;
}
export function parseCheckpoint(body: string): ParsedCheckpoint | null;
export function splitNote(
  note: string,
): { body: string; signatures: { name: string; keyHash: Buffer; payload: Buffer; line: string }[] } | null;
export function checkCheckpointNote(
  note: string,
  jwks: { keys: { x: string; kid: string; not_before?: string | null; not_after?: string | null }[] },
  logName: string,
): { problem: string } | { checkpoint: ParsedCheckpoint; kid: string; body: string; signatures: { line: string }[] };
export function parseVerifierKey(text: string): { name: string; type: number; keyHash: Buffer; raw: Buffer };
export function verifierKeyOf(name: string, type: number, raw: Uint8Array): string;
export function cosignatureLine(
  name: string,
  privateKey: import('node:crypto').KeyObject,
  body: string,
  timestamp: number | bigint,
): string;
export function fromHex(list: readonly string[]): Buffer[];
