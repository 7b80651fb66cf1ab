import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { installErrorHandler, installNotFoundHandler } from './error-handler.js';
import { loggerOptions } from './logger.js';

export interface ServerOptions {
  logLevel: string;
  /** Largest request body in bytes; the bulk route is the one that needs the most. */
  bodyLimit?: number;
}

/** Default body limit: 1000 bulk events of a few hundred bytes each fit with room to spare. */
export const DEFAULT_BODY_LIMIT = 5 * 1024 * 1024;

/**
 * Creates the Fastify instance every service's main.ts listens on: request ids (taken from
 * x-request-id when a gateway sends one), redacted pino logs, zod validation, the envelope.
 */
export function createServer(options: ServerOptions): FastifyInstance {
  const pretty = process.stdout.isTTY && options.logLevel !== 'silent';
  const logger = loggerOptions(options.logLevel) as Record<string, unknown>;
  const app = Fastify({
    logger: pretty ? { ...logger, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } } : logger,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  installNotFoundHandler(app);
  return app;
}

/** Installs validation in an encapsulated service plugin, so it behaves the same alone or composed. */
export function useZod(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
}
