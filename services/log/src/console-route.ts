import fastifyStatic from '@fastify/static';
import { consoleAssetDir, consoleIsBuilt } from '@logserver/console/assets';
import { failure } from '@logserver/shared/http/envelope';
import type { FastifyInstance } from 'fastify';

/**
 * The console's own rules for the browser: scripts and API calls from this origin only (the
 * WebSocket too), no Referer, no sniffing, and no framing by other sites (pages embed the
 * `<logserver-viewer>` element instead, which needs none of this origin's cookies).
 */
const HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/**
 * Serves the console's built static files at /console (README "Console"). A deliberately public
 * route outside the API: the files hold no data and no secret; every request the console makes
 * afterwards goes to the API with the user's own token, where the role matrix applies.
 * Registered at the top level, beside /docs, so neither the API's auth hook nor its per-tenant
 * rate limit sees it.
 */
export async function registerConsole(app: FastifyInstance): Promise<void> {
  if (!consoleIsBuilt()) {
    const notBuilt = failure(503, 'The console is not built: run `make build` (or `make start`, which builds it)');
    app.get('/console', async (_request, reply) => reply.code(503).send(notBuilt));
    app.get('/console/*', async (_request, reply) => reply.code(503).send(notBuilt));
    return;
  }
  await app.register(fastifyStatic, {
    root: consoleAssetDir,
    prefix: '/console/',
    index: ['index.html'],
    // One route per built file (listed at start): /console/ serves index.html, and so does /console (the
    // server ignores trailing slashes), without a redirect that would have to keep the #token fragment.
    wildcard: false,
    decorateReply: false,
    cacheControl: true,
    maxAge: 0,
    setHeaders: (reply: { header(name: string, value: string): unknown }) => {
      for (const [name, value] of Object.entries(HEADERS)) reply.header(name, value);
    },
  });
}
