import { ok } from '@logserver/shared/http/envelope';
import type { FastifyPluginAsync } from 'fastify';

/** What `GET /` says about this server: enough for someone who opened the address to find their way. */
export const ROOT_DESCRIPTION = {
  name: 'logserver',
  about: 'Multi-tenant audit-log server: POST audit events, then search, export, count, watch them live and verify nothing was changed.',
  docs: '/docs',
  openapi: '/docs/json',
  api: '/api/v1/logs',
  health: '/healthz',
  ready: '/readyz',
  token: 'Every /api/v1 route takes Authorization: Bearer <token>; make token ROLE=viewer TENANT=demo prints one.',
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>logserver</title></head>
<body>
<h1>logserver</h1>
<p>${escapeHtml(ROOT_DESCRIPTION.about)}</p>
<p><a href="/docs">API documentation (/docs)</a>, where “Authorize” takes the token the server printed at start.</p>
<p>${escapeHtml(ROOT_DESCRIPTION.token)}</p>
</body></html>
`;

/**
 * The all-in-one's root. A browser (Accept: text/html) gets a page linking /docs; anything else the
 * envelope with the same pointers. The separate auth service keeps the Python system's 401 at `/`.
 */
export const rootRoute: FastifyPluginAsync = async (app) => {
  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    if (/\btext\/html\b/.test(request.headers.accept ?? '')) return reply.type('text/html; charset=utf-8').send(PAGE);
    return ok(ROOT_DESCRIPTION);
  });
};
