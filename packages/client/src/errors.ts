/** One problem of a 422, as the server lists them. */
export interface ValidationProblem {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/**
 * A refusal or failure from the server, in its envelope: `status` is the HTTP status, `message`
 * the envelope's msg (e.g. "Unauthorized: token expired"), `problems` the 422's list.
 */
export class LogserverError extends Error {
  override readonly name = 'LogserverError';
  constructor(
    readonly status: number,
    message: string,
    readonly problems: ValidationProblem[] = [],
    /** From Retry-After, when the server said how long to wait. */
    readonly retryAfterMs?: number | undefined,
  ) {
    super(message);
  }

  /** Worth trying again: the network, a timeout, a 408/429/5xx, or a keyed request still in flight (409). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}
