import { warnUnsignedGateway } from '@logserver/shared/auth/gateway-signature';
import { jwtSettings } from '@logserver/shared/auth/jwt-settings';
import { createJwtVerifier } from '@logserver/shared/auth/jwt-verifier';
import { type Health, registerHealth } from '@logserver/shared/http/health';
import { registerMetrics } from '@logserver/shared/http/metrics';
import { createServer } from '@logserver/shared/http/server';
import type { FastifyInstance } from 'fastify';
import { buildAuthApp } from './app.js';
import type { AuthConfig } from './config.js';

/** The forward-auth service from its config, ready to listen. */
export async function composeAuth(config: AuthConfig): Promise<{ app: FastifyInstance; health: Health }> {
  const app = createServer({ logLevel: config.LOG_LEVEL, trustProxy: config.TRUST_PROXY });
  const verifier = createJwtVerifier(jwtSettings(config, config.AUTH_SECRET as string, app.log));
  const health = registerHealth(app, {});
  registerMetrics(app);
  if (config.GATEWAY_SECRET === undefined) warnUnsignedGateway(app.log, 'the identity headers it answers with are not signed');
  await app.register(buildAuthApp({ verifier }, { adminTenant: config.AUTH_ADMIN_TENANT, gatewaySecret: config.GATEWAY_SECRET }));
  return { app, health };
}
