import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type ValidationDetail, ValidationFailed } from '../errors/catalogue.js';
import { failure } from './envelope.js';

const LOCATION: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** Fastify's own request errors, mapped to the status and message a client can act on. */
const FASTIFY_ERRORS: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'Unsupported media type: send application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'Invalid Content-Length'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'Empty JSON body'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'Request body too large'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'Malformed JSON body'],
};

function toPath(instancePath: string): (string | number)[] {
  return instancePath
    .split('/')
    .filter((part) => part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function validationDetails(error: FastifyError): ValidationDetail[] {
  const where = LOCATION[error.validationContext ?? 'body'] ?? 'body';
  return (error.validation ?? []).map((issue) => ({
    loc: [where, ...toPath(issue.instancePath)],
    msg: issue.message ?? 'Invalid value',
    type: String(issue.keyword),
  }));
}

/**
 * One error handler per app: catalogue errors, validation errors and unknown errors all leave
 * in the envelope. A 5xx never carries its message to the client and is logged once with the request id.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ValidationFailed) {
      return reply.code(422).send(failure(422, 'Validation error', error.details));
    }
    if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
      return reply.code(422).send(failure(422, 'Validation error', validationDetails(error)));
    }
    const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
    if (known) {
      return reply.code(known[0]).send(failure(known[0], known[1]));
    }
    if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
      return reply.code(400).send(failure(400, 'Malformed JSON body'));
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      const msg = status === 503 ? error.message : 'Internal Server Error';
      return reply.code(status).send(failure(status, msg));
    }
    request.log.info({ code: error.code, status }, error.message);
    // RFC 6750: a refusal made in request-auth carries its own challenge (token-refusal.ts); the verifier's, a reason.
    const challenge = (error as { challenge?: unknown }).challenge;
    if (status === 401)
      reply.header('www-authenticate', typeof challenge === 'string' ? challenge : wwwAuthenticate((error as { reason?: string }).reason));
    // Every 422 keeps the Python system's shape, a list of problems, so clients parse one shape.
    if (status === 422)
      return reply.code(422).send(failure(422, error.message, [{ loc: [], msg: error.message, type: error.code ?? 'invalid' }]));
    return reply.code(status).send(failure(status, error.message));
  });
}

/**
 * RFC 6750 §3: a refused token is `invalid_token` with the reason as its description; a request
 * without one gets the bare challenge. Reasons are this codebase's own words (token-errors.ts).
 */
export function wwwAuthenticate(reason: string | undefined): string {
  if (reason === undefined) return 'Bearer realm="logserver"';
  return `Bearer realm="logserver", error="invalid_token", error_description="${reason.replace(/["\\]/g, '')}"`;
}

/** The root's 404, in the envelope; set once on the instance main.ts creates. */
export function installNotFoundHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(failure(404, `Not found: ${request.method} ${request.url.split('?')[0]}`));
  });
}
