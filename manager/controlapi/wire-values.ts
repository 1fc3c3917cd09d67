// Checks on decoded request values that the wire types cannot express. A request reaches a handler as
// proto-loader decodes it (the generated `__Output` types: every scalar present, absent messages null),
// so its shape is given; what a client can still send wrong is a value: an enum string outside its
// set, a negative int64, a uint64 beyond what a JavaScript number holds exactly, a ratio above 1. Each
// check returns the value or throws INVALID_ARGUMENT naming the field's path.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';

export function invalid(message: string): GrpcError {
  return new GrpcError(grpc.status.INVALID_ARGUMENT, message);
}

/** A string that must be one of `values`; '' (proto3's unset) reads as `fallback`. */
export function choice<T extends string>(v: string, path: string, values: readonly T[], fallback: T): T {
  const s = v === '' ? fallback : v;
  if (!(values as readonly string[]).includes(s)) {
    throw invalid(`invalid ${path} "${s}": use ${values.join(', ')}`);
  }
  return s as T;
}

/** A whole number in [min, max] (64-bit fields decode to numbers that may be unsafe or negative). */
export function wholeNumber(v: number, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`${path} must be a whole number between ${min} and ${max}, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** A finite number in [min, max] (a double may arrive as NaN or infinity). */
export function numberIn(v: number, path: string, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max) {
    throw invalid(`${path} must be a number between ${min} and ${max}, not ${JSON.stringify(v)}`);
  }
  return v;
}
