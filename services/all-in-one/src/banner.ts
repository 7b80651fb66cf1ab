import { type JwtSettings, mintToken } from '@logserver/shared/auth/jwt-verifier';
import type { TenantStore } from '@logserver/shared/tenant-store/port';
import type { FastifyBaseLogger } from 'fastify';

/** A fresh server has one tenant to try things with; an existing one is left as it is. */
export async function seedDemoTenant(tenants: TenantStore, key: string, log: FastifyBaseLogger): Promise<void> {
  if ((await tenants.list()).length > 0) return;
  await tenants.create({ key, name: 'Demo tenant' });
  log.info({ tenant: key }, 'created the demo tenant');
}

const DAY = 24 * 3600;

/**
 * What a newcomer needs right after `make start`: where the server is, a day-long admin token for
 * the demo tenant and one for the platform admin, and a request to paste. Printed, never logged,
 * and only to a terminal (or with BANNER_TOKENS=true): a container's stdout is its log, and a
 * 24-hour platform token there is a key anyone who reads the logs can use.
 */
export async function printBanner(options: {
  address: string;
  host: string;
  demoTenant: string;
  adminTenant: string;
  auth: JwtSettings;
  /** Print the tokens although stdout is not a terminal. */
  tokens: boolean;
}): Promise<void> {
  const url = options.address.replace('0.0.0.0', 'localhost').replace('[::]', 'localhost');
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(options.host);
  const reach = loopback
    ? `Only this machine can reach it (HOST=${options.host}). To serve others: HOST=0.0.0.0 make start,
and put it behind a proxy that keeps /metrics and /stats (counts over every tenant, no token) private.`
    : `Listening on every interface (HOST=${options.host}): /metrics and /stats answer anyone who reaches this port
without a token; keep them behind a proxy or a firewall.`;
  if (!process.stdout.isTTY && !options.tokens) {
    process.stdout.write(`
logserver all-in-one is listening on ${url}   (API docs: ${url}/docs)
${reach}

Tokens are printed only to a terminal (BANNER_TOKENS=true prints them anyway). Make one with:
  make token ROLE=admin TENANT=${options.demoTenant}   (from the repository's folder; see README)

`);
    return;
  }
  const admin = await mintToken({ ...options.auth, tenant: options.demoTenant, sub: 'demo-admin', role: 'admin', ttlSeconds: DAY });
  const platform = await mintToken({ ...options.auth, tenant: options.adminTenant, sub: 'platform-admin', role: 'admin', ttlSeconds: DAY });
  const ws = url.replace(/^http/, 'ws');
  process.stdout.write(`
logserver all-in-one is listening on ${url}   (API docs: ${url}/docs)
${reach}

Console, signed in as the demo tenant's admin (the token is in the #fragment, which the browser never sends):
  ${url}/console#token=${admin}

Admin token for tenant "${options.demoTenant}" (valid 24 h):
  ${admin}

Platform admin token for tenant management (valid 24 h):
  ${platform}
  (its console, with tenant management: ${url}/console#token=${platform})

Try it:
  curl -s -H "Authorization: Bearer ${admin}" -H 'content-type: application/json' \\
    -d '{"action":"update","resource_type":"user","resource_id":"123","severity":"WARNING"}' ${url}/api/v1/logs
  curl -s -H "Authorization: Bearer ${admin}" ${url}/api/v1/logs/stats
  npx --yes wscat@6 -c "${ws}/api/v1/logs/stream?token=${admin}"

More tokens (from the repository's folder): make token ROLE=viewer TENANT=${options.demoTenant}
  (ROLE is admin, auditor, viewer or writer; TOKEN=$(make -s token ROLE=viewer TENANT=${options.demoTenant}) keeps it in a variable)

`);
}
