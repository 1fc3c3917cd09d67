// The store as one byte string, for Raft snapshots.
//
// Canonical JSON (sorted keys, kinds sorted, objects sorted by id) so that equal stores give equal bytes:
// managers can compare snapshots, and tests can compare replicas. A snapshot is checked completely
// before it replaces anything, since a half-restored store would be worse than a refused snapshot.
import { InvalidSnapshotError } from './errors.js';
import { canonicalStringify, decodeUtf8, deepFreeze, encodeUtf8, isPlainObject } from './json.js';
import type { StoreObject } from '../../api/objects/index.js';
import type { KindOf, ObjectMap, Schema, Tables } from './tables.js';

export const SNAPSHOT_FORMAT_VERSION = 1;

export interface SnapshotContents {
  /** The Raft index of the last entry the state includes. */
  index: number;
  /** Objects by kind, each list sorted by id. Kinds the snapshot lacks are empty. */
  objects: Record<string, StoreObject[]>;
}

function byId(a: StoreObject, b: StoreObject): number {
  // Code-unit order, not localeCompare: the order must not depend on the machine's locale.
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function encodeSnapshot<M extends ObjectMap>(tables: Tables<M>, index: number): Uint8Array {
  const objects: Record<string, StoreObject[]> = {};
  for (const kind of Object.keys(tables).sort() as KindOf<M>[]) {
    objects[kind] = [...tables[kind].values()].sort(byId);
  }
  return encodeUtf8(canonicalStringify({ v: SNAPSHOT_FORMAT_VERSION, index, objects }));
}

/** Decodes and validates every object; throws InvalidSnapshotError on anything unexpected. */
export function decodeSnapshot<M extends ObjectMap>(data: Uint8Array, schema: Schema<M>): SnapshotContents {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeUtf8(data));
  } catch (err) {
    throw new InvalidSnapshotError(`store snapshot is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw new InvalidSnapshotError('store snapshot is not a JSON object');
  if (parsed.v !== SNAPSHOT_FORMAT_VERSION) {
    throw new InvalidSnapshotError(`unsupported store snapshot format version ${String(parsed.v)}`);
  }
  const { index, objects } = parsed;
  if (!Number.isSafeInteger(index) || (index as number) < 0) {
    throw new InvalidSnapshotError('store snapshot index must be a non-negative integer');
  }
  if (!isPlainObject(objects)) throw new InvalidSnapshotError('store snapshot objects must be an object');
  const out: Record<string, StoreObject[]> = {};
  for (const [kind, list] of Object.entries(objects)) {
    if (!Object.hasOwn(schema, kind))
      throw new InvalidSnapshotError(`store snapshot holds unknown kind ${kind}`);
    if (!Array.isArray(list)) throw new InvalidSnapshotError(`store snapshot ${kind} must be an array`);
    const seen = new Set<string>();
    out[kind] = list.map((obj: unknown) => {
      const problem = checkObject(obj, schema[kind as KindOf<M>].validate);
      if (problem) throw new InvalidSnapshotError(`store snapshot ${kind}: ${problem}`);
      const stored = deepFreeze(obj as StoreObject);
      if (seen.has(stored.id))
        throw new InvalidSnapshotError(`store snapshot ${kind}: duplicate id ${stored.id}`);
      seen.add(stored.id);
      return stored;
    });
  }
  return { index: index as number, objects: out };
}

function checkObject(
  obj: unknown,
  validate: (obj: Record<string, unknown>) => string | undefined,
): string | undefined {
  if (!isPlainObject(obj)) return 'object is not a JSON object';
  if (typeof obj.id !== 'string' || obj.id === '') return 'object without id';
  const meta = obj.meta;
  if (
    !isPlainObject(meta) ||
    !Number.isSafeInteger(meta.version) ||
    typeof meta.createdAt !== 'string' ||
    typeof meta.updatedAt !== 'string'
  ) {
    return `${obj.id}: meta must hold version, createdAt and updatedAt`;
  }
  const problem = validate(obj);
  return problem ? `${obj.id}: ${problem}` : undefined;
}
