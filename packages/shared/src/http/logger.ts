import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import { isCredentialName, rawParameters } from './query-names.js';

/**
 * Strips credentials from a URL before it is logged: `?token=` is how WebSocket clients
 * authenticate. Names are compared after decoding (`%74oken` is `token`), the way servers read them.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const hash = url.indexOf('#', at);
  const query = url.slice(at + 1, hash === -1 ? undefined : hash);
  const redacted = rawParameters(query)
    .map(({ raw, rawName, name }) => (isCredentialName(name) ? `${rawName}=[redacted]` : raw))
    .join('&');
  return `${url.slice(0, at + 1)}${redacted}${hash === -1 ? '' : url.slice(hash)}`;
}

/**
 * Pino options shared by every service: request ids, no tokens or secrets in any line,
 * pretty output only when a person is watching a terminal.
 */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["sec-websocket-protocol"]',
        'headers.authorization',
        'token',
        'secret',
        '*.secret',
        '*.token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req(request: { method: string; url: string; id: string; ip?: string; hostname?: string }) {
        return { method: request.method, url: redactUrl(request.url), reqId: request.id, remoteAddress: request.ip };
      },
    },
  };
}

/**
 * Fastify logs two info lines for every request; at thousands of requests a second that costs more
 * CPU than validating and storing the event (measured by `make benchmark`). Requests are logged at
 * debug (`LOG_LEVEL=debug` brings them back); a request that fails is still logged as an error,
 * and the error handler logs every 5xx once with its request id.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, _request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
