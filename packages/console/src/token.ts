/** What the console reads from a token to choose which views to show; the API still decides every request. */
export interface TokenClaims {
  sub?: string;
  tenant?: string;
  role?: string;
  exp?: number;
}

/** The token's claims, unverified (the browser has no key): only to shape the screen, never to grant anything. */
export function claimsOf(token: string): TokenClaims | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const text = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
    return typeof claims === 'object' && claims !== null ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}

export const canExport = (role: string | undefined) => role === 'auditor' || role === 'admin';
export const canVerify = canExport;
