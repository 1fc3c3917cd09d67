// Small JSON helpers the store relies on for determinism and isolation.

export type JsonObject = { [key: string]: unknown };

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Freezes a JSON value all the way down. Stored objects are frozen once, when apply inserts them, so
 * reads can hand out the stored instance itself: no copy per read, and no caller can change the store.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

/**
 * A private, mutable copy made through JSON: drops what JSON cannot carry (undefined fields, functions)
 * exactly as the trip through a Raft entry would, so a staged object reads the same as the applied one.
 */
export function jsonClone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** JSON with object keys sorted at every level: equal values always give equal text. */
export function canonicalStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isPlainObject(value)) return value;
  // No prototype: a "__proto__" key (legal in JSON) must stay a plain key, not reach Object.prototype.
  const out = Object.create(null) as JsonObject;
  for (const key of Object.keys(value).sort()) {
    if (value[key] !== undefined) out[key] = sortKeys(value[key]);
  }
  return out;
}

const encoder = new TextEncoder();
// fatal: invalid UTF-8 in an entry is a malformed entry, not text with replacement characters.
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
