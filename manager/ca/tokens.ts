// Join tokens in Swarm's shape: SWMTKN-1-<CA digest>-<secret>.
//
// The digest (sha256 of the root CA's DER, 50 base-36 digits) lets a joining node pin the CA before it
// trusts anything the manager says; the secret (128 random bits, 25 base-36 digits) is what the joiner
// proves to the CA, over a connection already verified against the pinned root. A cluster has one
// worker and one manager token; rotating one replaces its secret.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BASE36_PATTERN, base36, base36Width } from './base36.js';
import { CA_DIGEST_LENGTH, caDigest } from './certs.js';

const TOKEN_PREFIX = 'SWMTKN';
const TOKEN_VERSION = '1';
const SECRET_BITS = 128;
export const TOKEN_SECRET_LENGTH = base36Width(SECRET_BITS);

export interface JoinToken {
  /** caDigest() of the root CA the token belongs to. */
  caDigest: string;
  secret: string;
}

/** A join token that cannot be read; the message says which part is wrong but never echoes the secret. */
export class JoinTokenError extends Error {
  override name = 'JoinTokenError';
}

export function formatJoinToken(token: JoinToken): string {
  return `${TOKEN_PREFIX}-${TOKEN_VERSION}-${token.caDigest}-${token.secret}`;
}

/** A new token with a fresh secret, for the root CA `caCertPem`. */
export function newJoinToken(caCertPem: string): string {
  return formatJoinToken({
    caDigest: caDigest(caCertPem),
    secret: base36(randomBytes(SECRET_BITS / 8), TOKEN_SECRET_LENGTH),
  });
}

function checkPart(name: string, value: string, length: number): void {
  if (value.length !== length) {
    throw new JoinTokenError(
      `invalid join token: the ${name} must be ${length} characters, not ${value.length}`,
    );
  }
  if (!BASE36_PATTERN.test(value)) {
    throw new JoinTokenError(`invalid join token: the ${name} must be lowercase letters and digits only`);
  }
}

/** Parses a join token; throws JoinTokenError naming the first malformed part. */
export function parseJoinToken(text: string): JoinToken {
  const parts = text.trim().split('-');
  if (parts.length !== 4) {
    throw new JoinTokenError(
      `invalid join token: expected ${TOKEN_PREFIX}-${TOKEN_VERSION}-<CA digest>-<secret>, found ${parts.length} dash-separated parts`,
    );
  }
  const [prefix, version, digest, secret] = parts;
  if (prefix !== TOKEN_PREFIX) {
    throw new JoinTokenError(`invalid join token: it must start with ${TOKEN_PREFIX}-`);
  }
  if (version !== TOKEN_VERSION) {
    throw new JoinTokenError(
      `invalid join token: unsupported version "${version}" (expected ${TOKEN_VERSION})`,
    );
  }
  checkPart('CA digest', digest, CA_DIGEST_LENGTH);
  checkPart('secret', secret, TOKEN_SECRET_LENGTH);
  return { caDigest: digest, secret };
}

/**
 * Compares a presented token with the cluster's in constant time. Both sides are hashed first, so
 * neither the length nor the position of the first difference shows in the timing.
 */
export function tokenMatches(token: string, expected: string): boolean {
  if (expected === '') return false;
  const a = createHash('sha256').update(token).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
