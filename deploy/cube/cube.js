// Cube's configuration for logserver's analytics tier (docs/analytics.md, "Cube").
// checkAuth accepts exactly the tokens logserver accepts for stats: HS256 signed with the tenant's
// derived key (HMAC-SHA256(AUTH_SECRET, tenant) as hex, or md5-legacy), aud/iss as configured, exp
// required unless AUTH_REQUIRE_EXP=false, role viewer, auditor or admin. queryRewrite then forces
// logs.tenant_id = <the token's tenant> onto every query, so a dashboard can read one tenant only.
const { createHash, createHmac } = require('node:crypto');
const jwt = require('jsonwebtoken');

const READER_ROLES = new Set(['viewer', 'auditor', 'admin']);
const TENANT = /^[a-z0-9_-]+$/;
const TENANT_MEMBER = 'logs.tenant_id';

/** The settings logserver's own services read, with the same defaults (DESIGN §6). */
function settingsFrom(env) {
  const secret = env.AUTH_SECRET ?? '';
  if (secret === '') throw new Error('AUTH_SECRET is required: the same secret the auth and tenant services use');
  return {
    secret,
    audience: env.AUTH_AUDIENCE || 'logserver',
    issuer: env.AUTH_ISSUER || 'issuer',
    scheme: env.AUTH_KEY_SCHEME === 'md5-legacy' ? 'md5-legacy' : 'hmac-sha256',
    requireExp: !['false', '0', 'no'].includes((env.AUTH_REQUIRE_EXP ?? 'true').toLowerCase()),
  };
}

/** The tenant's HS256 key, derived as packages/shared/src/auth/tenant-key.ts derives it. */
function tenantKey(settings, tenant) {
  if (settings.scheme === 'md5-legacy')
    return createHash('md5')
      .update(tenant + settings.secret)
      .digest('hex');
  return createHmac('sha256', settings.secret).update(tenant).digest('hex');
}

class AuthError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The verified identity of a bearer token, or an AuthError (401 not accepted, 403 role may not read). */
function verifyToken(authorization, env = process.env) {
  const settings = settingsFrom(env);
  const token = typeof authorization === 'string' ? authorization.replace(/^Bearer\s+/i, '').trim() : '';
  if (token === '') throw new AuthError('Unauthorized', 401);
  // The tenant claim picks the key, so it is read before the signature is checked; nothing else
  // from the unverified payload is used.
  const unverified = jwt.decode(token);
  const tenant = unverified && typeof unverified === 'object' ? unverified.tenant : undefined;
  if (typeof tenant !== 'string' || !TENANT.test(tenant)) throw new AuthError('Unauthorized', 401);
  let payload;
  try {
    payload = jwt.verify(token, tenantKey(settings, tenant), {
      algorithms: ['HS256'],
      audience: settings.audience,
      issuer: settings.issuer,
    });
  } catch {
    throw new AuthError('Unauthorized', 401);
  }
  if (settings.requireExp && typeof payload.exp !== 'number') throw new AuthError('Unauthorized', 401);
  if (typeof payload.sub !== 'string' || payload.tenant !== tenant) throw new AuthError('Unauthorized', 401);
  if (!READER_ROLES.has(payload.role)) throw new AuthError(`Forbidden: role ${payload.role} may not read stats`, 403);
  return { tenant, role: payload.role, sub: payload.sub };
}

/**
 * Adds the tenant filter to a Cube query, whatever the query asked: filters are ANDed, so a
 * client's own tenant filter (another tenant, or an `or`) can only narrow it further.
 */
function forceTenant(query, securityContext) {
  const tenant = securityContext?.tenant;
  if (typeof tenant !== 'string' || !TENANT.test(tenant)) throw new AuthError('Unauthorized', 401);
  return { ...query, filters: [...(query.filters ?? []), { member: TENANT_MEMBER, operator: 'equals', values: [tenant] }] };
}

module.exports = {
  checkAuth: (req, authorization) => {
    req.securityContext = verifyToken(authorization);
  },
  queryRewrite: (query, { securityContext }) => forceTenant(query, securityContext),
  // One cache and pre-aggregation space per tenant: no answer cached for one tenant serves another.
  contextToAppId: ({ securityContext }) => `logserver_${securityContext.tenant}`,
  // Exported for the tests (deploy/cube is tested as plain code: test/deploy/cube.test.ts).
  verifyToken,
  forceTenant,
  AuthError,
};
