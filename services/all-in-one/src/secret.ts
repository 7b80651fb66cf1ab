import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The all-in-one server's AUTH_SECRET when none is given: made once, kept in the data folder
 * (readable by its owner only), so tokens survive restarts and no default secret ever exists.
 */
export function loadOrCreateSecret(dataDir: string, fileName = 'auth-secret'): { secret: string; created: boolean } {
  const path = join(dataDir, fileName);
  try {
    const secret = readFileSync(path, 'utf8').trim();
    if (secret.length >= 32) return { secret, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return { secret, created: true };
}
