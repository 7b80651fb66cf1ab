declare const tenantBrand: unique symbol;

/**
 * A tenant key that came from an authenticated identity. Every store method takes one first,
 * so a query without a tenant, or with a string from the request, does not compile.
 */
export type TenantId = string & { readonly [tenantBrand]: true };

/** The one way to make a TenantId: from the identity the auth layer resolved. */
export function tenantOf(identity: { tenant: string }): TenantId {
  return identity.tenant as TenantId;
}
