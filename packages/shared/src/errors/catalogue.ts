import createError from '@fastify/error';

/**
 * The error catalogue: one stable code per failure a client or operator can see.
 * Every 4xx message is safe to show; a 5xx message is never sent to the client.
 */
export const Unauthorized = createError('LOGSERVER_ERR_UNAUTHORIZED', 'Unauthorized', 401);
/** A token that was read and refused; the reason says which check failed (also in WWW-Authenticate). */
export const TokenRejected = createError('LOGSERVER_ERR_UNAUTHORIZED', 'Unauthorized: %s', 401);
export const ExportTooWide = createError('LOGSERVER_ERR_EXPORT_TOO_WIDE', '%s', 422);
export const Forbidden = createError('LOGSERVER_ERR_FORBIDDEN', 'Forbidden: role %s may not %s %s', 403);
export const NotFound = createError('LOGSERVER_ERR_NOT_FOUND', '%s not found', 404);
export const TenantExists = createError('LOGSERVER_ERR_TENANT_EXISTS', 'Tenant %s already exists', 409);
export const TenantReserved = createError('LOGSERVER_ERR_TENANT_RESERVED', 'Tenant key %s is reserved for the platform', 409);
export const TenantInUse = createError('LOGSERVER_ERR_TENANT_IN_USE', 'Tenant key %s is already in use: it has events', 409);
export const BadRequest = createError('LOGSERVER_ERR_BAD_REQUEST', '%s', 400);
export const RateLimited = createError('LOGSERVER_ERR_RATE_LIMITED', 'Too many requests for this tenant: retry in %d s', 429);
export const TooManyExports = createError(
  'LOGSERVER_ERR_TOO_MANY_EXPORTS',
  'Too many exports running %s: retry when one has finished',
  429,
);
export const TooManySearches = createError(
  'LOGSERVER_ERR_TOO_MANY_SEARCHES',
  'Too many searches (search or user_agent) running %s: retry in a moment',
  429,
);
export const NotSealed = createError('LOGSERVER_ERR_NOT_SEALED', 'Log %s is not sealed yet: %s', 409);
export const Conflict = createError('LOGSERVER_ERR_CONFLICT', '%s', 409);
export const IntegrityBusy = createError('LOGSERVER_ERR_INTEGRITY_BUSY', 'Too many proof or verify requests %s: retry in %d s', 429);
export const IdempotencyInFlight = createError(
  'LOGSERVER_ERR_IDEMPOTENCY_IN_FLIGHT',
  'A request with this Idempotency-Key is still being processed: retry once it has been answered',
  409,
);
export const IdempotencyKeyReused = createError(
  'LOGSERVER_ERR_IDEMPOTENCY_KEY_REUSED',
  'This Idempotency-Key was already used for a different request (another body, route or caller) within IDEMPOTENCY_TTL: use a new key for a new request',
  422,
);
export const Unavailable = createError('LOGSERVER_ERR_UNAVAILABLE', 'Service unavailable: %s', 503);
export const QueryTimeout = createError(
  'LOGSERVER_ERR_QUERY_TIMEOUT',
  'The query did not finish within %d ms: narrow it with from/to or more filters',
  503,
);

/** Thrown by loadConfig with every problem in one message. */
export class ConfigError extends Error {
  constructor(problems: string) {
    super(`Invalid configuration: ${problems}`);
    this.name = 'ConfigError';
  }
}

/** A 422 whose body lists the problems in the Python system's shape. */
export class ValidationFailed extends Error {
  readonly statusCode = 422;
  readonly code = 'LOGSERVER_ERR_VALIDATION';
  constructor(readonly details: ValidationDetail[]) {
    super('Validation error');
    this.name = 'ValidationFailed';
  }
}

export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/**
 * Events the queue cannot carry however often it is tried: too large for one message, or refused
 * by the queue when sent alone. A 422 that names each one by its index in what was published.
 */
export class NotQueueable extends ValidationFailed {
  constructor(
    readonly indexes: number[],
    reason: string,
  ) {
    super(indexes.map((index) => ({ loc: ['body', index], msg: `cannot be queued: ${reason}`, type: 'not_queueable' })));
  }
}
