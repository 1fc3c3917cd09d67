// One in-memory table per kind: rows by id plus secondary indexes, all maintained on every put/remove.
//
// Tables hold deep-frozen objects, so lookups return the stored instances without copying. A unique
// index is kept like any other (key → set of ids) and its uniqueness is checked by apply once a whole
// batch is in place (`uniqueViolations`), so a batch may swap two names without tripping on the order.
import type { StoreObject } from '../../api/objects/index.js';

export interface IndexSpec<T> {
  name: string;
  /** Apply rejects a batch that would leave two objects under one key of this index. */
  unique?: boolean;
  /** Keys are compared lowercased (Swarm names are case-insensitive). */
  caseInsensitive?: boolean;
  /** The object's keys in this index; none leaves it out. Only called on objects that passed validation. */
  keys(obj: T): readonly string[];
}

export interface TableSpec<T extends StoreObject> {
  indexes: readonly IndexSpec<T>[];
  /**
   * Checks an object decoded from an entry before apply stores it: returns what is wrong, or undefined.
   * It must at least guarantee the fields `keys()` reads, since apply trusts them afterwards.
   */
  validate(obj: Record<string, unknown>): string | undefined;
}

/** Kind name → object type. Type aliases (not interfaces) satisfy the index signature. */
export type ObjectMap = { [kind: string]: StoreObject };
export type KindOf<M extends ObjectMap> = keyof M & string;
export type Schema<M extends ObjectMap> = { [K in KindOf<M>]: TableSpec<M[K]> };

/** The answer to an id-prefix lookup, as `docker node inspect 3f2` needs it. */
export type PrefixMatch<T> =
  { status: 'found'; object: T } | { status: 'none' } | { status: 'ambiguous'; ids: string[] };

/**
 * Finds the object whose id is `prefix` or starts with it. An exact id wins over longer ids sharing it;
 * several candidates are reported (sorted) rather than guessed between. A linear scan: this serves
 * interactive lookups, where it is far cheaper than keeping a sorted id index up to date on every write.
 */
export function matchIdPrefix<T extends StoreObject>(objects: Iterable<T>, prefix: string): PrefixMatch<T> {
  if (prefix === '') return { status: 'none' };
  const matches: T[] = [];
  for (const obj of objects) {
    if (obj.id === prefix) return { status: 'found', object: obj };
    if (obj.id.startsWith(prefix)) matches.push(obj);
  }
  if (matches.length === 0) return { status: 'none' };
  if (matches.length === 1) return { status: 'found', object: matches[0] };
  return { status: 'ambiguous', ids: matches.map((o) => o.id).sort() };
}

/** The object's normalized keys in the index; read-only (it may be the array `keys()` returned). */
export function indexKeys<T>(spec: IndexSpec<T>, obj: T): readonly string[] {
  const keys = spec.keys(obj);
  return spec.caseInsensitive ? keys.map((k) => k.toLowerCase()) : keys;
}

/** Index keys are strings; numbers (a raftId) are looked up by their decimal form. */
export function normalizeKey<T>(spec: IndexSpec<T>, key: string | number): string {
  const text = String(key);
  return spec.caseInsensitive ? text.toLowerCase() : text;
}

interface Index<T> {
  spec: IndexSpec<T>;
  entries: Map<string, Set<string>>;
}

export class Table<T extends StoreObject> {
  private readonly rows = new Map<string, T>();
  private readonly indexes = new Map<string, Index<T>>();

  constructor(
    readonly kind: string,
    readonly spec: TableSpec<T>,
  ) {
    for (const index of spec.indexes) {
      if (index.name === 'id' || this.indexes.has(index.name)) {
        throw new Error(`store table ${kind}: duplicate index name ${index.name}`);
      }
      this.indexes.set(index.name, { spec: index, entries: new Map() });
    }
  }

  get size(): number {
    return this.rows.size;
  }

  get(id: string): T | undefined {
    return this.rows.get(id);
  }

  /** Every object, in unspecified order. */
  values(): IterableIterator<T> {
    return this.rows.values();
  }

  indexSpec(name: string): IndexSpec<T> {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`store table ${this.kind} has no index ${name}`);
    return index.spec;
  }

  /** Objects under `key` in the named index, in unspecified order. */
  find(indexName: string, key: string | number): T[] {
    const index = this.indexes.get(indexName);
    if (!index) throw new Error(`store table ${this.kind} has no index ${indexName}`);
    const ids = index.entries.get(normalizeKey(index.spec, key));
    return ids ? [...ids].map((id) => this.rows.get(id)!) : [];
  }

  findByIdPrefix(prefix: string): PrefixMatch<T> {
    return matchIdPrefix(this.rows.values(), prefix);
  }

  /**
   * Inserts or replaces; returns the object it replaced. An index whose keys did not change is left
   * alone: most updates (a task's status, a node's heartbeat) move one or two of a kind's indexes.
   */
  put(obj: T): T | undefined {
    const previous = this.rows.get(obj.id);
    this.rows.set(obj.id, obj);
    for (const index of this.indexes.values()) {
      const keys = indexKeys(index.spec, obj);
      if (previous) {
        const oldKeys = indexKeys(index.spec, previous);
        if (sameKeys(oldKeys, keys)) continue;
        unindex(index, obj.id, oldKeys);
      }
      for (const key of keys) {
        let ids = index.entries.get(key);
        if (!ids) index.entries.set(key, (ids = new Set()));
        ids.add(obj.id);
      }
    }
    return previous;
  }

  remove(id: string): T | undefined {
    const obj = this.rows.get(id);
    if (!obj) return undefined;
    this.rows.delete(id);
    for (const index of this.indexes.values()) unindex(index, id, indexKeys(index.spec, obj));
    return obj;
  }

  /** For the stored object `id`: each unique index where one of its keys is shared with another object. */
  uniqueViolations(id: string): { index: string; key: string }[] {
    const obj = this.rows.get(id);
    if (!obj) return [];
    const out: { index: string; key: string }[] = [];
    for (const index of this.indexes.values()) {
      if (!index.spec.unique) continue;
      for (const key of indexKeys(index.spec, obj)) {
        if ((index.entries.get(key)?.size ?? 0) > 1) out.push({ index: index.spec.name, key });
      }
    }
    return out;
  }

  clear(): void {
    this.rows.clear();
    for (const index of this.indexes.values()) index.entries.clear();
  }
}

function unindex<T>(index: Index<T>, id: string, keys: readonly string[]): void {
  for (const key of keys) {
    const ids = index.entries.get(key);
    if (!ids) continue;
    ids.delete(id);
    if (ids.size === 0) index.entries.delete(key);
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The store's tables, one per kind of the schema. */
export type Tables<M extends ObjectMap> = { [K in KindOf<M>]: Table<M[K]> };

export function createTables<M extends ObjectMap>(schema: Schema<M>): Tables<M> {
  const tables = {} as Tables<M>;
  for (const kind of Object.keys(schema) as KindOf<M>[]) {
    tables[kind] = new Table(kind, schema[kind]);
  }
  return tables;
}
