// Content digests (`sha256:<hex>`): everything the store keeps is named by the hash of its bytes, and
// every byte that enters it is hashed on the way in and refused when the hash is not the one promised.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UserError } from '../../lib/errors.js';

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && SHA256_RE.test(value);
}

/** The digest itself, or a clear error naming what carried the bad value. */
export function checkDigest(value: unknown, what: string): string {
  if (!isDigest(value))
    throw new UserError(`${what}: invalid digest ${JSON.stringify(value)} (want sha256:<64 hex>)`);
  return value;
}

export function digestHex(digest: string): string {
  return checkDigest(digest, 'digest').slice('sha256:'.length);
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export class DigestMismatchError extends UserError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: digest mismatch: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

export class SizeMismatchError extends UserError {
  constructor(what: string, expected: number, actual: string) {
    super(`${what}: size mismatch: expected ${expected} bytes, got ${actual}`);
    this.name = 'SizeMismatchError';
  }
}

/**
 * A pass-through that hashes what flows through it and counts it. With `maxBytes` it fails as soon
 * as more arrives than promised, so a hostile source cannot fill the disk before the digest check.
 */
export class DigestingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(
    private readonly what: string,
    private readonly maxBytes?: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.maxBytes !== undefined && this.bytes > this.maxBytes) {
      done(new SizeMismatchError(this.what, this.maxBytes, `more than ${this.maxBytes}`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** Valid once the stream has ended. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
