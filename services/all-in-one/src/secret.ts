import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Jwks, KeyRing, rotateJwks } from '@logserver/shared/integrity/keyring';
import { generateSigningKeyPem, type SigningKey, signingKeyFromPem } from '@logserver/shared/integrity/signing-key';

/** A secret kept in the data folder: read if it is there and usable, else made and written (owner-only). */
function loadOrCreate(
  dataDir: string,
  fileName: string,
  make: () => string,
  usable: (text: string) => boolean,
): { value: string; created: boolean } {
  const path = join(dataDir, fileName);
  try {
    const value = readFileSync(path, 'utf8').trim();
    if (usable(value)) return { value, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return { value, created: true };
}

/**
 * The all-in-one server's AUTH_SECRET when none is given: made once, kept in the data folder
 * (readable by its owner only), so tokens survive restarts and no default secret ever exists.
 */
export function loadOrCreateSecret(dataDir: string, fileName = 'auth-secret'): { secret: string; created: boolean } {
  const { value, created } = loadOrCreate(
    dataDir,
    fileName,
    () => randomBytes(32).toString('hex'),
    (text) => text.length >= 32,
  );
  return { secret: value, created };
}

/**
 * The all-in-one server's INTEGRITY_SIGNING_KEY when none is given, kept beside the secret: a new
 * key on every start would leave older digests signed by a key nobody can look up any more.
 */
export function loadOrCreateSigningKey(dataDir: string, fileName = 'integrity-signing-key.pem'): string {
  return loadOrCreate(
    dataDir,
    fileName,
    () => generateSigningKeyPem().trim(),
    (text) => text.includes('PRIVATE KEY'),
  ).value;
}

const KEYRING_FILE = 'integrity-keyring.json';
const SIGNING_KEY_FILE = 'integrity-signing-key.pem';

/**
 * The all-in-one server's signing key and key ring, from the data folder, reread when
 * `make rotate-signing-key` changes them, so a rotation takes effect at the next seal without a
 * restart. The key ring (integrity-keyring.json, a JWKS with validity windows) is made on first
 * start with the one key, valid since forever. INTEGRITY_SIGNING_KEY / INTEGRITY_KEYRING, when
 * set, are used as they are and never reread.
 */
export function dataDirKeys(
  dataDir: string,
  name: string,
  env: { signingKeyPem?: string | undefined; keyRingJson?: string | undefined } = {},
): { signingKey: () => SigningKey; signingKeySource: { pem: string } | { file: string }; keys: () => KeyRing } {
  const keyPath = join(dataDir, SIGNING_KEY_FILE);
  const ringPath = join(dataDir, KEYRING_FILE);
  const fixedKey = env.signingKeyPem ? signingKeyFromPem(env.signingKeyPem) : null;
  if (!fixedKey) loadOrCreateSigningKey(dataDir);
  const readKey = () => fixedKey ?? signingKeyFromPem(readFileSync(keyPath, 'utf8'));
  if (!env.keyRingJson && !existsSync(ringPath)) {
    writeFileSync(ringPath, `${JSON.stringify(KeyRing.single(name, readKey().publicKeyPem).toJwks(), null, 2)}\n`);
  }
  const readRing = () => (env.keyRingJson ? JSON.parse(env.keyRingJson) : JSON.parse(readFileSync(ringPath, 'utf8')));
  const cached = <T>(path: string | null, read: () => T): (() => T) => {
    let stamp = -1;
    let value: T | undefined;
    return () => {
      const now = path === null ? 0 : statSync(path).mtimeMs;
      if (value === undefined || now !== stamp) {
        value = read();
        stamp = now;
      }
      return value;
    };
  };
  const signingKey = cached(fixedKey ? null : keyPath, readKey);
  // Where a sealer thread reads the same key (it makes its own key object, and rereads the file as this does).
  const signingKeySource = env.signingKeyPem ? { pem: env.signingKeyPem } : { file: keyPath };
  const keys = cached(env.keyRingJson ? null : ringPath, () => {
    const ring = KeyRing.fromJwks(name, readRing());
    const current = signingKey();
    if (!ring.byKid(current.keyId))
      throw new Error(`the signing key ${current.keyId} is not in ${ringPath}: run make rotate-signing-key to change keys`);
    return ring;
  });
  return { signingKey, signingKeySource, keys };
}

/**
 * Rotates the data folder's signing key (make rotate-signing-key): a new key, the old key's window
 * closed now and the new one's opened now in the key ring, the old private key destroyed, so a
 * checkpoint it signs after this is refused by verify. Returns the kids.
 */
export function rotateSigningKey(dataDir: string, name: string, now = new Date()): { retired: string; current: string } {
  const keyPath = join(dataDir, SIGNING_KEY_FILE);
  const ringPath = join(dataDir, KEYRING_FILE);
  const old = signingKeyFromPem(readFileSync(keyPath, 'utf8'));
  const ring = existsSync(ringPath) ? (JSON.parse(readFileSync(ringPath, 'utf8')) as Jwks) : null;
  const nextPem = generateSigningKeyPem().trim();
  const next = signingKeyFromPem(nextPem);
  const rotated = rotateJwks(name, ring, old, next, now);
  // The ring first: a server that reads the new key before its window is in the ring would sign with an unknown key.
  writeFileSync(`${ringPath}.tmp`, `${JSON.stringify(rotated, null, 2)}\n`);
  renameSync(`${ringPath}.tmp`, ringPath);
  writeFileSync(`${keyPath}.tmp`, `${nextPem}\n`, { mode: 0o600 });
  renameSync(`${keyPath}.tmp`, keyPath);
  return { retired: old.keyId, current: next.keyId };
}

const STREAM_KEY_FILE = 'stream-secret-key';
const STREAM_PREVIOUS_FILE = 'stream-secret-key.previous';

/**
 * The all-in-one server's STREAM_SECRET_KEY and STREAM_SECRET_KEY_PREVIOUS when they are not given:
 * the key made once in the data folder, and the keys `make rotate-stream-key` retired (one a line).
 */
export function loadStreamKeys(dataDir: string): { key: string; previous: string | undefined } {
  const { secret } = loadOrCreateSecret(dataDir, STREAM_KEY_FILE);
  let previous: string | undefined;
  try {
    previous = readFileSync(join(dataDir, STREAM_PREVIOUS_FILE), 'utf8').split('\n').filter(Boolean).join(',') || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { key: secret, previous };
}

/**
 * Retires the data folder's stream key (docs/streams.md "Rotating the key"): the current one joins
 * `stream-secret-key.previous`, a new one takes its place. At its next start the server seals every
 * destination secret again under the new key; the previous file may then be deleted. Written
 * previous-first, each file replaced whole, so an interruption never loses the key secrets are under.
 */
export function rotateStreamKey(dataDir: string): { retired: number } {
  const keyPath = join(dataDir, STREAM_KEY_FILE);
  const previousPath = join(dataDir, STREAM_PREVIOUS_FILE);
  const current = readFileSync(keyPath, 'utf8').trim();
  if (current.length < 32) throw new Error(`${keyPath} holds no key`);
  let older: string[] = [];
  try {
    older = readFileSync(previousPath, 'utf8').split('\n').filter(Boolean);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const retired = [current, ...older.filter((key) => key !== current)];
  writeFileSync(`${previousPath}.tmp`, `${retired.join('\n')}\n`, { mode: 0o600 });
  renameSync(`${previousPath}.tmp`, previousPath);
  writeFileSync(`${keyPath}.tmp`, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  renameSync(`${keyPath}.tmp`, keyPath);
  return { retired: retired.length };
}
