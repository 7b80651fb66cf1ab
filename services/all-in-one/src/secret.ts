import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeyPem } from '@logserver/shared/integrity/signing-key';

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
