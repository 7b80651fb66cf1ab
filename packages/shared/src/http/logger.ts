import type { FastifyServerOptions } from 'fastify';

/** Strips credentials from a URL before it is logged: `?token=` is how WebSocket clients authenticate. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|access_token)=)[^&#]*/gi, '$1[redacted]');
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
