// Typed reads of a decoded request, field by field. A request decoded by proto-loader (defaults on)
// has every scalar set and absent messages as null; one built in process may leave anything out or
// hold the wrong type. Either way a reader returns the field or throws INVALID_ARGUMENT naming its
// path, so a malformed request is a user error, never a TypeError inside a handler.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';

export type WireObject = Record<string, unknown>;

export function invalid(message: string): GrpcError {
  return new GrpcError(grpc.status.INVALID_ARGUMENT, message);
}

const isRecord = (v: unknown): v is WireObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A nested message: undefined when absent (null or undefined). */
export function optionalMessage(v: unknown, path: string): WireObject | undefined {
  if (v === null || v === undefined) return undefined;
  if (!isRecord(v)) throw invalid(`${path} must be a message`);
  return v;
}

/** A string; '' and absent read as `fallback` (proto3 cannot tell an empty string from an unset one). */
export function readString(v: unknown, path: string, fallback = ''): string {
  if (v === null || v === undefined || v === '') return fallback;
  if (typeof v !== 'string') throw invalid(`${path} must be a string`);
  return v;
}

/** A string that must be one of `values`; '' and absent read as `fallback`. */
export function readChoice<T extends string>(v: unknown, path: string, values: readonly T[], fallback: T): T {
  const s = readString(v, path, fallback);
  if (!(values as readonly string[]).includes(s)) {
    throw invalid(`invalid ${path} "${s}": use ${values.join(', ')}`);
  }
  return s as T;
}

export function readBoolean(v: unknown, path: string): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== 'boolean') throw invalid(`${path} must be true or false`);
  return v;
}

/** A whole number in [min, max]; absent reads as `fallback`. */
export function readInteger(
  v: unknown,
  path: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
) {
  if (v === null || v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`${path} must be a whole number between ${min} and ${max}, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** A finite number in [min, max]; absent reads as `fallback`. */
export function readNumber(v: unknown, path: string, fallback: number, min: number, max: number): number {
  if (v === null || v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw invalid(`${path} must be a number between ${min} and ${max}, not ${JSON.stringify(v)}`);
  }
  return v;
}

export function readStringList(v: unknown, path: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw invalid(`${path} must be a list of strings`);
  }
  return [...(v as string[])];
}

export function readStringMap(v: unknown, path: string): Record<string, string> {
  if (v === null || v === undefined) return {};
  if (!isRecord(v) || !Object.values(v).every((s) => typeof s === 'string')) {
    throw invalid(`${path} must be a map of strings`);
  }
  return { ...(v as Record<string, string>) };
}

/** A repeated message: each element read by `read(element, "path[i]")`. */
export function readMessageList<T>(v: unknown, path: string, read: (m: WireObject, path: string) => T): T[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`${path} must be a list`);
  return v.map((m, i) => {
    const item = optionalMessage(m, `${path}[${i}]`);
    if (!item) throw invalid(`${path}[${i}] must be a message`);
    return read(item, `${path}[${i}]`);
  });
}
