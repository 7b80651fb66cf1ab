// Routes declare `schema: { hide: true }` (kept out of /docs), which @fastify/swagger adds to
// FastifySchema: this reference carries that type into every service built against this package.
/// <reference types="@fastify/swagger" preserve="true" />
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { clientErrorHandler } from './client-error.js';
import { failure } from './envelope.js';
import { installErrorHandler, installNotFoundHandler } from './error-handler.js';
import { loggerOptions, RequestLogController } from './logger.js';
import { requireRouteAudiences } from './route-audience.js';

export interface ServerOptions {
  logLevel: string;
  /** Largest request body in bytes; the bulk route is the one that needs the most. */
  bodyLimit?: number;
  /** TRUST_PROXY: the proxies whose X-Forwarded-For decides request.ip; none when absent. */
  trustProxy?: string[] | undefined;
}

const ROUTER_ERRORS: Record<string, [number, string]> = {
  FST_ERR_BAD_URL: [400, 'Malformed URL: a path segment is not valid percent-encoding'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'URL path segment too long'],
};

/**
 * Longest a client may take to send one whole request, headers and body (Node's default is 5
 * minutes): a 10 MiB bulk body needs 60 s only below 1.4 Mbit/s, and a client that trickles its
 * body holds a connection and its buffer for no longer than this.
 */
export const REQUEST_TIMEOUT_MS = 60_000;
/**
 * A socket on which nothing moves for this long is closed (Node's default: never). Longer than
 * Fastify's 72 s keep-alive, so idle keep-alive connections end as before; streamed answers that
 * are moving and upgraded WebSockets are not affected (a stalled export is cut off sooner, by
 * EXPORT_IDLE_TIMEOUT_MS).
 */
export const CONNECTION_TIMEOUT_MS = 120_000;

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
// Fastify types these factories for ajv's pool; each returns the compiler for any route, so zod's fits.
const ZOD_COMPILERS = {
  buildValidator: () => validatorCompiler,
  buildSerializer: () => serializerCompiler,
} as unknown as CompilersFactory;

/** Default body limit: 1000 bulk events of a few hundred bytes each fit with room to spare. */
export const DEFAULT_BODY_LIMIT = 5 * 1024 * 1024;

/**
 * Creates the Fastify instance every service's main.ts listens on: request ids (taken from
 * x-request-id when a gateway sends one), redacted pino logs, zod validation, the envelope, and
 * the check that every /api/ route declares its audience.
 */
export function createServer(options: ServerOptions): FastifyInstance {
  const pretty = process.stdout.isTTY && options.logLevel !== 'silent';
  const logger = loggerOptions(options.logLevel) as Record<string, unknown>;
  const app = Fastify({
    logger: pretty ? { ...logger, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } } : logger,
    logController: new RequestLogController(),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    trustProxy: options.trustProxy ?? false,
    forceCloseConnections: true,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Every schema is zod: named here, Fastify never loads its ajv and fast-json-stringify
    // compilers (~100 modules, a few MiB in every process; docs/benchmarks.md "Memory").
    schemaController: { compilersFactory: ZOD_COMPILERS },
    // The router refuses some URLs before any handler runs; without this they would leave in
    // Fastify's own error shape instead of the envelope.
    clientErrorHandler,
    frameworkErrors: (error, _request, reply) => {
      const [status, msg] = ROUTER_ERRORS[error.code] ?? [400, 'Bad request'];
      (reply as FastifyReply).code(status).send(failure(status, msg));
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every route takes JSON: a text/plain body is told to send JSON (415), not validated as a string.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app);
  installNotFoundHandler(app);
  requireRouteAudiences(app);
  return app;
}

/** Installs validation in an encapsulated service plugin, so it behaves the same alone or composed. */
export function useZod(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
}
