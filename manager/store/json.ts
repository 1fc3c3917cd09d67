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
  // Loops rather than Object.values: apply freezes every object of every entry, and the array
  // Object.values allocates per level costs about half of that time.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
  } else {
    const record = value as Record<string, unknown>;
    for (const key in record) if (Object.hasOwn(record, key)) deepFreeze(record[key]);
  }
  return Object.freeze(value);
}

/**
 * The exact JSON text of every value frozenJsonCopy parsed: each is deep-frozen and is JSON.parse of
 * its text, and JSON.stringify gives that text back (JSON.stringify ∘ JSON.parse is the identity on
 * JSON.stringify's output). Weak: an entry lives as long as its object (typically in the store).
 */
const textOf = new WeakMap<object, string>();

export interface FrozenJsonCopy {
  /** Exactly JSON.stringify(object). */
  json: string;
  /** Exactly JSON.parse(json), deep-frozen. */
  fields: JsonObject;
}

/**
 * A JSON object's text and a frozen copy parsed back from it, as a write transaction stages it: what
 * JSON cannot carry (undefined fields, functions) is gone exactly as the trip through a Raft entry
 * would drop it. Writers mostly restage objects they read with a few fields replaced
 * (`{ ...task, status }`), so a field whose value is a copy made here before is reused with its known
 * text: the unchanged bulk of an object is neither serialized, parsed nor frozen again. Undefined if
 * the object does not serialize to a JSON object.
 */
export function frozenJsonCopy(object: JsonObject): FrozenJsonCopy | undefined {
  // A toJSON anywhere at the top would be called with a key JSON.stringify(value) does not pass.
  if (hasToJson(object)) return wholeCopy(object);
  const parts: string[] = [];
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(object)) {
    const value = object[key];
    let text = typeof value === 'object' && value !== null ? textOf.get(value) : undefined;
    let copy = value;
    if (text === undefined) {
      if (hasToJson(value)) return wholeCopy(object);
      text = JSON.stringify(value) as string | undefined;
      if (text === undefined) continue; // undefined, a function or a symbol: JSON leaves the key out
      copy = parseFrozen(text);
    }
    parts.push(`${JSON.stringify(key)}:${text}`);
    entries.push([key, copy]);
  }
  // fromEntries defines properties, so a "__proto__" key stays a plain key, as JSON.parse keeps it.
  return { json: `{${parts.join(',')}}`, fields: Object.freeze(Object.fromEntries(entries)) };
}

function wholeCopy(object: JsonObject): FrozenJsonCopy | undefined {
  const json = JSON.stringify(object) as string | undefined;
  if (json === undefined) return undefined;
  const fields = parseFrozen(json);
  return isPlainObject(fields) ? { json, fields } : undefined;
}

function parseFrozen(text: string): unknown {
  const value = deepFreeze(JSON.parse(text) as unknown);
  if (typeof value === 'object' && value !== null) textOf.set(value, text);
  return value;
}

function hasToJson(value: unknown): boolean {
  return (
    value !== null && value !== undefined && typeof (value as { toJSON?: unknown }).toJSON === 'function'
  );
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
