import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) bytes of any JSON value; throws on what JSON cannot carry (NaN, lone surrogates). */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

// crypto.hash (Node 20.12+) is the one-shot form: several times faster than createHash for
// inputs this small, and hashing is on every ingest.
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/**
 * The event's hash: SHA-256 of its canonical JSON without the integrity fields. Any store,
 * any language, any key order gives the same bytes, so an auditor can recompute it from an export.
 */
export function eventHash(event: object): string {
  if (!('hash' in event)) return sha256Hex(canonicalJson(event));
  // `hash` is the one integrity field on an event; it is left out rather than deleted so the
  // object keeps its fast shape.
  const { hash: _integrity, ...content } = event as { hash?: unknown };
  return sha256Hex(canonicalJson(content));
}

/** The event with its hash, computed once here when it is built and then carried as it is. */
export function withHash<T extends object>(event: T): T & { hash: string } {
  return { ...event, hash: eventHash(event) };
}
