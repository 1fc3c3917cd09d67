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
 * The exact JSON text of values frozenJsonCopy parsed: each is deep-frozen and is JSON.parse of its
 * text, and JSON.stringify gives that text back (JSON.stringify ∘ JSON.parse is the identity on
 * JSON.stringify's output). Weak: an entry lives as long as its object (typically in the store).
 */
const textOf = new WeakMap<object, string>();

/**
 * Only values at least this long are remembered: a small one (a status, an empty list) costs more to
 * track (a weak entry the GC must visit) than to serialize again. A task's spec is several hundred.
 */
const REMEMBER_MIN_CHARS = 128;

/** Quoted keys: objects of one kind share a handful of field names. Bounded against odd callers. */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 1024;

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
  let json = '';
  const fields: JsonObject = {};
  for (const key of Object.keys(object)) {
    const value = object[key];
    let text: string | undefined;
    let copy: unknown = value;
    if (typeof value === 'object' && value !== null) {
      text = textOf.get(value);
      if (text === undefined) {
        if (hasToJson(value)) return wholeCopy(object);
        text = JSON.stringify(value);
        copy = deepFreeze(JSON.parse(text) as unknown);
        if (text.length >= REMEMBER_MIN_CHARS) textOf.set(copy as object, text);
      }
    } else {
      text = JSON.stringify(value) as string | undefined;
      if (text === undefined) continue; // undefined, a function or a symbol: JSON leaves the key out
      // Strings, booleans and finite numbers other than -0 come back from JSON unchanged.
      const unchanged =
        typeof value === 'string' ||
        typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0));
      if (!unchanged) copy = JSON.parse(text) as unknown;
    }
    json += `${json === '' ? '' : ','}${quoteKey(key)}:${text}`;
    // A key the object inherits ("__proto__", "toString") must become an own data property, as
    // JSON.parse makes it, not call a setter or shadow by assignment rules.
    if (key in fields) {
      Object.defineProperty(fields, key, {
        value: copy,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      fields[key] = copy;
    }
  }
  return { json: `{${json}}`, fields: Object.freeze(fields) };
}

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}

function wholeCopy(object: JsonObject): FrozenJsonCopy | undefined {
  const json = JSON.stringify(object) as string | undefined;
  if (json === undefined) return undefined;
  const fields = deepFreeze(JSON.parse(json) as unknown);
  return isPlainObject(fields) ? { json, fields } : undefined;
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
