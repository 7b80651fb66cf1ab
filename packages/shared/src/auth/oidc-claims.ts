import { type Identity, IdentityClaims, ROLES, type Role } from './identity.js';
import { rejected } from './token-errors.js';

/** How an external identity provider's claims become an identity (AUTH_TENANT_CLAIM, AUTH_ROLE_CLAIM, the maps). */
export interface ClaimMapping {
  tenantClaim: string;
  roleClaim: string;
  /** IdP value → tenant key; a value not in the map is taken as the tenant key itself. */
  tenantMap: Readonly<Record<string, string>>;
  /** IdP value → role; the first entry whose value the token carries wins, then a value that is a role name. */
  roleMap: Readonly<Record<string, Role>>;
}

/**
 * A claim by name, or by a dotted path into nested objects (Keycloak's `realm_access.roles`).
 * A claim whose name itself has dots (Auth0's `https://example.com/tenant`) is found by that name first.
 */
export function claimAt(payload: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const asStrings = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

export function roleFrom(value: unknown, roleMap: ClaimMapping['roleMap']): Role | undefined {
  const values = asStrings(value);
  for (const [from, role] of Object.entries(roleMap)) if (values.includes(from)) return role;
  return values.find((candidate): candidate is Role => (ROLES as readonly string[]).includes(candidate));
}

/** The identity a verified IdP token names; a 401 that says which claim is missing or unusable. */
export function identityFromClaims(payload: Record<string, unknown>, mapping: ClaimMapping): Identity {
  const rawTenant = claimAt(payload, mapping.tenantClaim);
  const tenant = typeof rawTenant === 'string' ? (mapping.tenantMap[rawTenant] ?? rawTenant) : undefined;
  const role = roleFrom(claimAt(payload, mapping.roleClaim), mapping.roleMap);
  const claims = IdentityClaims.safeParse({ sub: payload.sub, tenant, role });
  if (!claims.success) {
    const field = String(claims.error.issues[0]?.path[0] ?? 'sub');
    const named =
      field === 'tenant' ? `tenant claim (${mapping.tenantClaim})` : field === 'role' ? `role claim (${mapping.roleClaim})` : 'sub claim';
    throw rejected(`token has no usable ${named}`);
  }
  return { ...claims.data, exp: typeof payload.exp === 'number' ? payload.exp : undefined };
}
