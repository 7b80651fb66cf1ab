// make rotate-stream-key [DATA_DIR=...]: retires the all-in-one server's key for destination
// secrets (docs/streams.md "Rotating the key"). Restart the server afterwards: at its start it
// seals every destination secret again under the new key and logs when the previous file can go.
import { resolve } from 'node:path';
import { rotateStreamKey } from '../services/all-in-one/src/secret.js';

const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), process.env.DATA_DIR ?? 'data');
try {
  const { retired } = rotateStreamKey(dataDir);
  process.stdout.write(
    `rotated the stream secret key in ${dataDir}: a new stream-secret-key; ${retired} previous key(s) in stream-secret-key.previous.\n` +
      'Restart the server: it seals every destination secret again under the new key, then logs that the previous file may be deleted.\n',
  );
} catch (error) {
  process.stderr.write(
    `could not rotate the stream secret key in ${dataDir}: ${(error as Error).message}\n(start the server once so it makes its key, or set DATA_DIR; with STREAM_SECRET_KEY set, rotate by setting STREAM_SECRET_KEY_PREVIOUS, docs/streams.md)\n`,
  );
  process.exit(1);
}
