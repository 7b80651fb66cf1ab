import type { Worker } from 'node:worker_threads';
import { startModuleThread } from '../lifecycle/module-thread.js';
import type { SealRound, SealRunner } from './sealer.js';
import type { SealerKeySource, SealerRequest, SealerResponse, SealerWorkerData } from './sealer-worker.js';

export interface ThreadSealerOptions {
  /** The SQLite file the events are in; the thread opens its own connection to it. */
  sqlitePath: string;
  /** The signing key: a fixed PEM, or a file the thread reads again when it changes (a rotation takes effect at the next seal). */
  key: SealerKeySource;
  /** INTEGRITY_ORIGIN: checkpoint origins are `<logName>/<tenant>`. */
  logName?: string | undefined;
  onError?: (error: unknown) => void;
}

/**
 * A Sealer on its own thread, for SQLite: a seal reads each tenant's new events back, hashes them
 * into the tree and commits the checkpoint, about 30 µs an event measured on the event loop; on
 * this thread that work no longer delays the requests being ingested (docs/tamper-evidence.md
 * "What a seal costs"). The thread has its own connection to the file, as a sealer in another
 * process would, and the same lease and compare-and-append keep it safe beside other sealers. It
 * runs the timer and reads the key itself, so rounds keep their rate when this event loop is busy;
 * sealAll() (tests) is a message answered with the round's counts. The thread starts at the first
 * sealAll() or start().
 */
export class ThreadSealer implements SealRunner {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (round: SealRound) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private running: Promise<SealRound> | null = null;

  constructor(private readonly options: ThreadSealerOptions) {}

  sealAll(): Promise<SealRound> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(intervalMs: number): void {
    (this.worker ?? this.spawn()).postMessage({ type: 'start', intervalMs } satisfies SealerRequest);
  }

  /** Stops the thread's timer, waits for a round in progress, then closes its connection and the thread. */
  async stop(): Promise<void> {
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
      worker.postMessage({ type: 'seal', id } satisfies SealerRequest);
    });
  }

  private spawn(): Worker {
    const workerData: SealerWorkerData = { sqlitePath: this.options.sqlitePath, key: this.options.key, logName: this.options.logName };
    const worker = startModuleThread(import.meta.url, 'sealer-worker', { workerData });
    // The thread alone does not keep the process up; stop() (the plugin's onClose) ends it.
    worker.unref();
    const failure = (message: { error: string; stack?: string | undefined }) =>
      Object.assign(new Error(message.error), { stack: message.stack });
    worker.on('message', (message: SealerResponse) => {
      if (message.type === 'timer-error') return this.options.onError?.(failure(message));
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if (message.type === 'round') waiting.resolve(message.round);
      else waiting.reject(failure(message));
    });
    // A thread that dies fails the rounds it had and is reported; the next sealAll() starts a new one.
    const fail = (error: Error) => {
      if (this.worker === worker) {
        this.worker = null;
        this.options.onError?.(error);
      }
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the sealer thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
