// Structural checks apply runs on objects decoded from Raft entries (see indexes.ts for why only structure).
import { isPlainObject } from './json.js';

export type Check = (v: unknown) => string | undefined;

export const string: Check = (v) => (typeof v === 'string' ? undefined : 'must be a string');
export const nonEmptyString: Check = (v) =>
  typeof v === 'string' && v !== '' ? undefined : 'must be a non-empty string';
export const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean');
export const object: Check = (v) => (isPlainObject(v) ? undefined : 'must be an object');
export const nonNegativeNumber: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : 'must be a non-negative number';

export function integer(min: number, max: number): Check {
  return (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
      ? undefined
      : `must be an integer in [${min}, ${max}]`;
}

export function oneOf(values: readonly string[]): Check {
  return (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join('|')}`;
}

export function optional(check: Check): Check {
  return (v) => (v === undefined ? undefined : check(v));
}

export const stringArray: Check = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'must be an array of strings';

export const stringRecord: Check = (v) =>
  isPlainObject(v) && Object.values(v).every((s) => typeof s === 'string')
    ? undefined
    : 'must be an object of strings';

export const positiveInt = integer(1, Number.MAX_SAFE_INTEGER);

/**
 * Checks `rules` in order ([dotted path, check]); returns the first failure as "path: problem". A
 * parent is listed before its children so a missing parent is reported as such rather than crashing.
 */
export function checkFields(
  obj: Record<string, unknown>,
  rules: readonly [string, Check][],
): string | undefined {
  for (const [path, check] of rules) {
    let v: unknown = obj;
    for (const part of pathParts(path)) v = isPlainObject(v) ? v[part] : undefined;
    const problem = check(v);
    if (problem) return `${path}: ${problem}`;
  }
  return undefined;
}

// Rule paths are a fixed set of literals: split each once, not on every object apply validates.
const splitPaths = new Map<string, readonly string[]>();

function pathParts(path: string): readonly string[] {
  let parts = splitPaths.get(path);
  if (!parts) splitPaths.set(path, (parts = path.split('.')));
  return parts;
}
