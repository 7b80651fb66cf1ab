import * as errors from 'jose/errors';
import { TokenRejected } from '../errors/catalogue.js';

/**
 * Why a token was refused, in words a client can act on (RFC 6750 error_description): which
 * check failed, never the token, a key or a claim's value.
 */
export function rejectionReason(error: unknown): string {
  if (error instanceof TokenRejected) return (error as { reason?: string }).reason ?? 'invalid token';
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return 'wrong issuer';
      case 'aud':
        return 'wrong audience';
      case 'exp':
        return 'token has no exp claim';
      case 'nbf':
        return 'token not yet valid (nbf)';
      case 'iat':
        return 'token issued in the future (iat)';
      default:
        return `claim ${error.claim} is not acceptable`;
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'signing algorithm not accepted';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the identity provider matches the token (kid)';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'several keys of the identity provider match the token';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return 'the identity provider’s keys could not be read';
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) return 'malformed token';
  if (error instanceof errors.JOSENotSupported) return 'token uses an unsupported algorithm or key';
  return 'invalid token';
}

/** The 401 for a refused token, with its reason. */
export function rejected(reason: string): Error {
  const error = new TokenRejected(reason);
  (error as { reason?: string }).reason = reason;
  return error;
}
