import { parentPort, workerData } from 'node:worker_threads';
import { SqliteIntegrityStore } from '../sqlite/integrity-store.js';
import { Sealer, type SealRound } from './sealer.js';
import { type SigningKey, signingKeyFromPem } from './signing-key.js';

/** What a ThreadSealer (sealer-thread.ts) starts its thread with. */
export interface SealerWorkerData {
  sqlitePath: string;
  logName?: string | undefined;
}

export type SealerRequest = { type: 'seal'; id: number; keyPem: string } | { type: 'close' };
export type SealerResponse = { id: number; round: SealRound } | { id: number; error: string; stack?: string | undefined };

/**
 * The sealer thread: a Sealer on its own connection to the SQLite file, sealing when asked, with
 * the key the request carries. One round at a time (the ThreadSealer never asks for two at once).
 */
function main(port: NonNullable<typeof parentPort>, data: SealerWorkerData): void {
  const store = SqliteIntegrityStore.open(data.sqlitePath);
  let key: { pem: string; key: SigningKey } | null = null;
  const sealer = new Sealer({
    store,
    key: () => {
      if (key === null) throw new Error('no signing key given');
      return key.key;
    },
    ...(data.logName === undefined ? {} : { logName: data.logName }),
  });
  port.on('message', async (request: SealerRequest) => {
    if (request.type === 'close') {
      await sealer.stop();
      await store.close();
      port.close();
      return;
    }
    try {
      if (key?.pem !== request.keyPem) key = { pem: request.keyPem, key: signingKeyFromPem(request.keyPem) };
      port.postMessage({ id: request.id, round: await sealer.sealAll() } satisfies SealerResponse);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ id: request.id, error: failure.message, stack: failure.stack } satisfies SealerResponse);
    }
  });
}

if (parentPort !== null) main(parentPort, workerData as SealerWorkerData);
