import { Worker } from 'node:worker_threads';
import { type SealRound, type SealRunner, SealTimer } from './sealer.js';
import type { SealerRequest, SealerResponse, SealerWorkerData } from './sealer-worker.js';

export interface ThreadSealerOptions {
  /** The SQLite file the events are in; the thread opens its own connection to it. */
  sqlitePath: string;
  /** The signing key's PEM, asked once per seal (so a rotated key takes effect without a restart). */
  keyPem: () => string;
  /** INTEGRITY_ORIGIN: checkpoint origins are `<logName>/<tenant>`. */
  logName?: string | undefined;
  onError?: (error: unknown) => void;
}

// Built, this file is dist/integrity/sealer-thread.js beside sealer-worker.js. From source (tests,
// --conditions=development) it is a .ts file, and the thread first registers tsx's loader (a
// worker's execArgv cannot carry --import) and then imports the .ts worker.
const fromSource = import.meta.url.endsWith('.ts');

function newWorker(workerData: SealerWorkerData): Worker {
  if (!fromSource) return new Worker(new URL('./sealer-worker.js', import.meta.url), { workerData });
  // tsx is resolved from the working directory, as `node --import tsx` resolves it.
  const entry = new URL('./sealer-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * A Sealer on its own thread, for SQLite: a seal reads each tenant's new events back, hashes them
 * into the tree and commits the checkpoint with an fsync (synchronous=FULL), about 30 µs an event
 * measured on the event loop; on this thread that work no longer delays the requests being
 * ingested (docs/tamper-evidence.md "What a seal costs"). The thread has its own connection to the
 * file, as a sealer in another process would, and the same lease and compare-and-append keep it
 * safe beside other sealers. The timer and the key stay here: each round is one message carrying
 * the current key, answered with the round's counts. The thread starts at the first seal.
 */
export class ThreadSealer implements SealRunner {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (round: SealRound) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private running: Promise<SealRound> | null = null;
  private readonly timer: SealTimer;

  constructor(private readonly options: ThreadSealerOptions) {
    this.timer = new SealTimer(() => this.sealAll(), options.onError);
  }

  sealAll(): Promise<SealRound> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(intervalMs: number): void {
    this.timer.start(intervalMs);
  }

  /** Stops the timer, waits for a round in progress, then closes the thread's connection and the thread. */
  async stop(): Promise<void> {
    this.timer.stop();
    await this.running?.catch(() => undefined);
    const worker = this.worker;
    this.worker = null;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' } satisfies SealerRequest);
    await exited;
  }

  private round(): Promise<SealRound> {
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<SealRound>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'seal', id, keyPem: this.options.keyPem() } satisfies SealerRequest);
    });
  }

  private spawn(): Worker {
    const workerData: SealerWorkerData = { sqlitePath: this.options.sqlitePath, logName: this.options.logName };
    const worker = newWorker(workerData);
    // The thread alone does not keep the process up; stop() (the plugin's onClose) ends it.
    worker.unref();
    worker.on('message', (message: SealerResponse) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if ('round' in message) waiting.resolve(message.round);
      else waiting.reject(Object.assign(new Error(message.error), { stack: message.stack }));
    });
    // A thread that dies fails the rounds it had; the next round starts a new one.
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the sealer thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
