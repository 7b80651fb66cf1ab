import { verify } from 'node:crypto';
import { canonicalJson } from './event-hash.js';
import type { KeyRing } from './keyring.js';
import type { SigningKey } from './signing-key.js';

/**
 * The server's mark on a cleanup's `logs.cleanup` audit event: an Ed25519 signature by the log's
 * signing key over what the cleanup did, kept in the event's `metadata.signature`. The API already
 * refuses `logs.*` actions from clients (issue 13); this is what a writer with access to the
 * database alone cannot make, so a cleanup record and audit event written straight into the
 * store do not pass verify as a cleanup once the log signs its cleanups (docs/tamper-evidence.md
 * "Retention keeps proofs"). The signature is in the event, so it is in the event's hash and leaf too.
 */
export interface CleanupSignature {
  /** The signing key's kid (GET /api/v1/integrity/keys). */
  kid: string;
  /** Base64 Ed25519 signature over the RFC 8785 JSON of the statement. */
  sig: string;
}

/** What the signature covers: the cleanup's audit event and the parameters verify holds the record against. */
export interface CleanupStatement {
  tenant: string;
  /** The audit event's id (the record's audit_event_id). */
  id: string;
  /** The audit event's timestamp: the key's window must hold it. */
  timestamp: string;
  before: string | null;
  deleted_count: number;
  by: 'request' | 'policy';
}

const PURPOSE = 'logserver cleanup v1';

/** The signed bytes: RFC 8785 JSON of the statement with its purpose, so the signature means nothing elsewhere. */
export function cleanupSignedBytes(statement: CleanupStatement): Buffer {
  return Buffer.from(canonicalJson({ purpose: PURPOSE, ...statement }));
}

export function signCleanup(key: SigningKey, statement: CleanupStatement): CleanupSignature {
  return { kid: key.keyId, sig: key.signBytes(cleanupSignedBytes(statement)).toString('base64') };
}

/** Null when the signature is the log's over this statement, by a key whose window holds the event's time; else what is wrong. */
export function cleanupSignatureProblem(keys: KeyRing, statement: CleanupStatement, signature: unknown): string | null {
  const { kid, sig } = (signature ?? {}) as Partial<CleanupSignature>;
  if (typeof kid !== 'string' || typeof sig !== 'string') return 'its signature is not {kid, sig}';
  const key = keys.byKid(kid);
  if (!key) return `its signature names key ${kid}, which is not in the key ring`;
  if ((key.notBefore !== null && statement.timestamp < key.notBefore) || (key.notAfter !== null && statement.timestamp >= key.notAfter))
    return `its signature is by key ${kid}, whose window does not hold ${statement.timestamp}`;
  let valid = false;
  try {
    valid = verify(null, cleanupSignedBytes(statement), key.key, Buffer.from(sig, 'base64'));
  } catch {
    valid = false;
  }
  return valid ? null : 'its signature does not verify: the record was not written by the server, or was changed';
}
