import { signIdentityHeaders } from '@logserver/shared/auth/gateway-signature';
import { AUTH_HEADERS, encodeSubjectHeader } from '@logserver/shared/auth/identity';
import type { JwtVerifier } from '@logserver/shared/auth/jwt-verifier';
import { failure, ok } from '@logserver/shared/http/envelope';
import { wwwAuthenticate } from '@logserver/shared/http/error-handler';
import { useZod } from '@logserver/shared/http/server';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { decide, MISSING_TOKEN, originalRequest } from './forward-auth.js';

export interface AuthDeps {
  verifier: JwtVerifier;
}

export interface AuthAppConfig {
  adminTenant: string;
  /** Signs the x-auth-* answer (x-auth-signature) so the services can tell it came from here. */
  gatewaySecret?: string | undefined;
  /** The Python system's 401 at `/` (default on); the all-in-one serves its own root instead. */
  pythonRoot?: boolean;
}

/** Forward-auth for ingress-nginx (`auth-url`): 200 with the x-auth-* headers, or 401/403. */
export function buildAuthApp(deps: AuthDeps, config: AuthAppConfig): FastifyPluginAsync {
  return async (app) => {
    useZod(app);

    // The Python system's auth root answered this body; its clients and probes expect it.
    if (config.pythonRoot !== false) {
      app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.code(401).send({ code: 401, msg: 'Unauthorized' }));
    }

    // ingress-nginx calls whatever auth-url names; /auth and anything below it answer the same.
    // Called by the gateway, not by API clients: kept out of /docs.
    app.all('/auth', { schema: { hide: true } }, forwardAuth);
    app.all('/auth/*', { schema: { hide: true } }, forwardAuth);

    async function forwardAuth(request: FastifyRequest, reply: FastifyReply) {
      const decision = await decide(originalRequest(request.headers, request.method), deps.verifier.verify, config.adminTenant);
      if (decision.status !== 200) {
        request.log.info({ status: decision.status, reason: decision.reason }, 'forward-auth refused');
        if (decision.status === 403) return reply.code(403).send(failure(403, 'Forbidden'));
        // The same 401 as the all-in-one's: which check failed, in the body and in WWW-Authenticate.
        const reason = decision.reason === MISSING_TOKEN ? undefined : decision.reason;
        reply.header('www-authenticate', wwwAuthenticate(reason));
        return reply.code(401).send(failure(401, reason === undefined ? 'Unauthorized' : `Unauthorized: ${reason}`));
      }
      const { sub, tenant, role, exp } = decision.identity;
      const headers = { sub: encodeSubjectHeader(sub), tenant, role, exp: exp === undefined ? '' : String(exp) };
      reply.header(AUTH_HEADERS.sub, headers.sub).header(AUTH_HEADERS.tenant, tenant).header(AUTH_HEADERS.role, role);
      if (exp !== undefined) reply.header(AUTH_HEADERS.exp, headers.exp);
      if (config.gatewaySecret !== undefined) reply.header(AUTH_HEADERS.signature, signIdentityHeaders(config.gatewaySecret, headers));
      return ok({ sub, tenant, role });
    }
  };
}
