import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';

export type IdpAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  kid: string;
  alg: IdpAlgorithm;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
  publicPem: string;
}

/**
 * An identity provider on loopback: a JWKS endpoint over real HTTP, keys it can rotate, and
 * tokens it signs. `fetches` counts how often the JWKS was read, to see caching and refetching.
 */
export interface LoopbackIdp {
  jwksUrl: string;
  issuer: string;
  fetches: number;
  /** Signs claims with the current key of that algorithm (iss, iat and a 10 min exp unless given). */
  sign(claims: Record<string, unknown>, options?: { alg?: IdpAlgorithm; expiresIn?: string | number; issuer?: string }): Promise<string>;
  /** Replaces every key with a new one (new kid); the old ones leave the JWKS. */
  rotate(): Promise<void>;
  /** The current RS256 public key as PEM, as an attacker could read it from the JWKS. */
  publicPem(): string;
  close(): Promise<void>;
}

let counter = 0;

async function newKey(alg: IdpAlgorithm): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = `${alg.toLowerCase()}-${++counter}`;
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

export async function startLoopbackIdp(): Promise<LoopbackIdp> {
  let keys = await Promise.all((['RS256', 'ES256', 'EdDSA'] as const).map(newKey));
  let server: Server | undefined;
  const idp: LoopbackIdp = {
    jwksUrl: '',
    issuer: '',
    fetches: 0,
    async sign(claims, options = {}) {
      const alg = options.alg ?? 'RS256';
      const key = keys.find((candidate) => candidate.alg === alg) as SigningKey;
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' })
        .setIssuer(options.issuer ?? idp.issuer)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m')
        .sign(key.privateKey);
    },
    async rotate() {
      keys = await Promise.all((['RS256', 'ES256', 'EdDSA'] as const).map(newKey));
    },
    publicPem: () => (keys[0] as SigningKey).publicPem,
    close: () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
  server = createServer((request, response) => {
    if (request.url === '/.well-known/jwks.json') {
      idp.fetches++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  idp.jwksUrl = `http://127.0.0.1:${port}/.well-known/jwks.json`;
  idp.issuer = `http://127.0.0.1:${port}/`;
  return idp;
}
