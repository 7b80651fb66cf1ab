import { readFileSync, statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteIntegrityStore } from '../sqlite/integrity-store.js';
import { Sealer, type SealRound } from './sealer.js';
import { type SigningKey, signingKeyFromPem } from './signing-key.js';

/** Where the thread takes the signing key from: a fixed PEM (INTEGRITY_SIGNING_KEY) or a file reread when it changes. */
export type SealerKeySource = { pem: string } | { file: string };

/** What a ThreadSealer (sealer-thread.ts) starts its thread with. */
export interface SealerWorkerData {
  sqlitePath: string;
  key: SealerKeySource;
  logName?: string | undefined;
}

export type SealerRequest = { type: 'seal'; id: number } | { type: 'start'; intervalMs: number } | { type: 'close' };
export type SealerResponse =
  | { type: 'round'; id: number; round: SealRound }
  | { type: 'failed'; id: number; error: string; stack?: string | undefined }
  | { type: 'timer-error'; error: string; stack?: string | undefined };

/** The key of the next seal: the file's, read again when its mtime moves (make rotate-signing-key), or the fixed one. */
function keyFrom(source: SealerKeySource): () => SigningKey {
  if ('pem' in source) {
    const key = signingKeyFromPem(source.pem);
    return () => key;
  }
  let stamp = -1;
  let key: SigningKey | null = null;
  return () => {
    const now = statSync(source.file).mtimeMs;
    if (key === null || now !== stamp) {
      key = signingKeyFromPem(readFileSync(source.file, 'utf8'));
      stamp = now;
    }
    return key;
  };
}

const described = (error: unknown) => {
  const failure = error instanceof Error ? error : new Error(String(error));
  return { error: failure.message, stack: failure.stack };
};

/**
 * The sealer thread: a Sealer on its own connection to the SQLite file, with its own timer (so a
 * busy event loop on the main thread does not delay a round) and its own reading of the key.
 */
function main(port: NonNullable<typeof parentPort>, data: SealerWorkerData): void {
  // Without an fsync per commit: see SqliteIntegrityStore.open (acknowledged events stay durable).
  const store = SqliteIntegrityStore.open(data.sqlitePath, { synchronous: 'NORMAL' });
  const sealer = new Sealer({
    store,
    key: keyFrom(data.key),
    ...(data.logName === undefined ? {} : { logName: data.logName }),
    onError: (error) => port.postMessage({ type: 'timer-error', ...described(error) } satisfies SealerResponse),
  });
  port.on('message', async (request: SealerRequest) => {
    if (request.type === 'start') return sealer.start(request.intervalMs);
    if (request.type === 'close') {
      await sealer.stop();
      await store.close();
      port.close();
      return;
    }
    try {
      port.postMessage({ type: 'round', id: request.id, round: await sealer.sealAll() } satisfies SealerResponse);
    } catch (error) {
      port.postMessage({ type: 'failed', id: request.id, ...described(error) } satisfies SealerResponse);
    }
  });
}

if (parentPort !== null) main(parentPort, workerData as SealerWorkerData);
