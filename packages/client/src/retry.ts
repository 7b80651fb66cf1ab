import pRetry, { AbortError } from 'p-retry';
import { LogserverError } from './errors.js';

export interface RetryOptions {
  /** Attempts after the first; 0 turns retrying off. */
  retries: number;
  /** First backoff; doubled each time (with jitter) up to maxDelayMs. */
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, minDelayMs: 200, maxDelayMs: 10_000 };

/**
 * Runs an attempt until it succeeds, fails for good, or the retries are spent. Exponential backoff
 * with jitter (p-retry); a server's Retry-After is waited out on top. Only errors that say they
 * are retryable are tried again: a 4xx that names a mistake would fail the same way every time.
 */
export function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions, signal?: AbortSignal): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof LogserverError && !error.retryable) throw new AbortError(error);
        throw error;
      }
    },
    {
      retries: options.retries,
      minTimeout: options.minDelayMs,
      maxTimeout: options.maxDelayMs,
      randomize: true,
      ...(signal ? { signal } : {}),
      async onFailedAttempt({ error }) {
        const wait = error instanceof LogserverError ? error.retryAfterMs : undefined;
        if (wait !== undefined && wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, options.maxDelayMs)));
      },
    },
  );
}
