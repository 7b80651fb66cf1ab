// make rotate-signing-key [DATA_DIR=...] [INTEGRITY_ORIGIN=...]: rotates the all-in-one server's
// checkpoint signing key in its data folder (docs/tamper-evidence.md "Key rotation"). A running
// server picks the new key up at its next seal; checkpoints signed before stay valid under the old
// key's window, and anything the old key signs after its window closes is refused by verify.
import { resolve } from 'node:path';
import { rotateSigningKey } from '../services/all-in-one/src/secret.js';

const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), process.env.DATA_DIR ?? 'data');
const name = process.env.INTEGRITY_ORIGIN ?? 'logserver';
try {
  const { retired, current } = rotateSigningKey(dataDir, name);
  process.stdout.write(`rotated the signing key in ${dataDir}: ${retired} retired (window closes in 5 s), ${current} signs from now\n`);
} catch (error) {
  process.stderr.write(
    `could not rotate the signing key in ${dataDir}: ${(error as Error).message}\n(start the server once so it makes its key, or set DATA_DIR)\n`,
  );
  process.exit(1);
}
