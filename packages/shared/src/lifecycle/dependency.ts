import type { FastifyInstance } from 'fastify';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import { Unavailable } from '../errors/catalogue.js';
import { failure } from '../http/envelope.js';
import { openStores, type StoreSettings, type Stores } from '../stores.js';

export interface DependencyLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/**
 * Something a service needs but does not own (MongoDB, SQS), opened in the background and retried
 * with exponential backoff until it answers, so the process starts, answers /healthz and says in
 * /readyz what it waits for, instead of exiting. `ready` settles once it is open.
 */
export class Dependency<T> {
  private opened: T | undefined;
  private lastError = 'not tried yet';
  private attempts = 0;
  private readonly abort = new AbortController();
  readonly ready: Promise<T>;

  constructor(
    /** What /readyz and the 503s call it: "MongoDB", "SQS". */
    readonly name: string,
    open: () => Promise<T>,
    options: { log: DependencyLogger; maxDelayMs: number; onClose?: (value: T) => Promise<void> },
  ) {
    this.onClose = options.onClose;
    this.ready = pRetry(
      async () => {
        this.attempts++;
        return open();
      },
      {
        retries: Number.POSITIVE_INFINITY,
        factor: 2,
        minTimeout: Math.min(200, options.maxDelayMs),
        maxTimeout: options.maxDelayMs,
        randomize: true,
        signal: this.abort.signal,
        onFailedAttempt: ({ error, attemptNumber }) => {
          this.lastError = error.message;
          options.log.warn({ dependency: name, attempt: attemptNumber, err: error }, `${name} is not reachable yet; retrying`);
        },
      },
    ).then((value) => {
      this.opened = value;
      options.log.info({ dependency: name, attempts: this.attempts }, `${name} is reachable`);
      return value;
    });
    // Closing before it opened rejects `ready`; nobody has to handle that.
    this.ready.catch(() => {});
  }

  private readonly onClose: ((value: T) => Promise<void>) | undefined;

  /** The opened value, or undefined while it is still being retried. */
  get value(): T | undefined {
    return this.opened;
  }

  /** The opened value, or a 503 (in the envelope) naming what is missing. */
  require(): T {
    if (this.opened === undefined) throw this.unavailable();
    return this.opened;
  }

  /** Why it is not open yet, for /readyz and the 503. */
  describe(): string {
    return `${this.name} is not reachable yet (attempt ${this.attempts}, retrying with backoff): ${this.lastError}`;
  }

  unavailable(): Error {
    return new Unavailable(this.describe());
  }

  /** Stops retrying; closes the value if it was opened. */
  async close(): Promise<void> {
    this.abort.abort();
    if (this.opened !== undefined) await this.onClose?.(this.opened);
  }
}

/**
 * A stand-in for a port whose adapter is still being opened: each method call goes to the adapter
 * once `pick` finds it, and throws the dependency's 503 until then. The routes are registered at
 * start with these, so nothing needs a restart when the dependency comes up.
 */
export function deferred<T extends object>(dependency: Pick<Dependency<unknown>, 'unavailable'>, pick: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, property) {
      const target = pick();
      if (target === undefined) {
        return () => {
          throw dependency.unavailable();
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Every /api route answers 503 in the envelope, naming what is missing, until each dependency is
 * open; /healthz, /readyz, /metrics and /docs keep answering. Runs before authentication, so a
 * request is refused before anything would touch a store that is not there.
 */
export function gateUntilReady(app: FastifyInstance, dependencies: Dependency<unknown>[]): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/')) return;
    const missing = dependencies.filter((dependency) => dependency.value === undefined);
    if (missing.length === 0) return;
    const msg = `Service unavailable: ${missing.map((dependency) => dependency.describe()).join('; ')}`;
    return reply.code(503).header('retry-after', '5').send(failure(503, msg));
  });
}

/** The stores as a dependency: MongoDB is retried until it answers; SQLite opens at the first attempt. */
export function storesDependency(
  settings: StoreSettings,
  options: { log: DependencyLogger & Pick<Logger, 'info' | 'warn'>; maxDelayMs: number },
): Dependency<Stores> {
  return new Dependency(settings.store === 'mongodb' ? 'MongoDB' : 'SQLite', () => openStores(settings, { log: options.log }), {
    log: options.log,
    maxDelayMs: options.maxDelayMs,
    onClose: async (stores) => {
      await stores.logs.close();
      await stores.tenants.close();
      await stores.integrity?.close();
      await stores.retention.close();
    },
  });
}
