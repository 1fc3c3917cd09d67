// Transactions: a read view of the tables, and a write transaction that stages actions over it.
//
// A write transaction reads its own writes (a created object is found by get/find/list), and each
// object ends up as at most one action: create+update is one create, update+update one update that
// still carries the version first read, create+delete nothing at all. Checks made here (exists, not
// found, stale version) only fail early; apply repeats them authoritatively at commit.
import { encodeAction, type Action, type Op } from './actions.js';
import {
  ExistsError,
  InvalidObjectError,
  NotFoundError,
  SequenceConflictError,
  TransactionClosedError,
} from './errors.js';
import { deepFreeze, frozenJsonCopy, type JsonObject } from './json.js';
import type { NewObject, StoreObject } from '../../api/objects/index.js';
import {
  indexKeys,
  matchIdPrefix,
  normalizeKey,
  type KindOf,
  type ObjectMap,
  type PrefixMatch,
  type Table,
  type Tables,
} from './tables.js';

export interface ReadTx<M extends ObjectMap> {
  get<K extends KindOf<M>>(kind: K, id: string): M[K] | undefined;
  /** Every object of the kind, in unspecified order. */
  list<K extends KindOf<M>>(kind: K): M[K][];
  /** Objects under `key` in a secondary index (see indexes.ts for each kind's index names). */
  find<K extends KindOf<M>>(kind: K, index: string, key: string | number): M[K][];
  findByIdPrefix<K extends KindOf<M>>(kind: K, prefix: string): PrefixMatch<M[K]>;
}

export interface WriteTx<M extends ObjectMap> extends ReadTx<M> {
  /** Stages a new object; returns it as this transaction now reads it (meta.version 0 until committed). */
  create<K extends KindOf<M>>(kind: K, object: NewObject<M[K]>): M[K];
  /**
   * Stages a replacement for an object read earlier (this transaction or another): `object.meta.version`
   * is the version that was read, and the commit fails with SequenceConflictError if it moved since.
   */
  update<K extends KindOf<M>>(kind: K, object: M[K]): M[K];
  /** Stages a delete. Given an object, its meta.version must still be current; given an id, the version read here. */
  delete<K extends KindOf<M>>(kind: K, target: string | M[K]): void;
}

export class ReadTransaction<M extends ObjectMap> implements ReadTx<M> {
  private open = true;

  constructor(protected readonly tables: Tables<M>) {}

  /** Ends the transaction: using it afterwards throws, as it would otherwise see later commits. */
  close(): void {
    this.open = false;
  }

  get<K extends KindOf<M>>(kind: K, id: string): M[K] | undefined {
    return this.table(kind).get(id);
  }

  list<K extends KindOf<M>>(kind: K): M[K][] {
    return [...this.table(kind).values()];
  }

  find<K extends KindOf<M>>(kind: K, index: string, key: string | number): M[K][] {
    return this.table(kind).find(index, key);
  }

  findByIdPrefix<K extends KindOf<M>>(kind: K, prefix: string): PrefixMatch<M[K]> {
    return this.table(kind).findByIdPrefix(prefix);
  }

  protected table<K extends KindOf<M>>(kind: K): Table<M[K]> {
    if (!this.open) throw new TransactionClosedError();
    const table = Object.hasOwn(this.tables, kind) ? this.tables[kind] : undefined;
    if (!table) throw new Error(`store has no kind ${String(kind)}`);
    return table;
  }
}

interface Staged {
  kind: string;
  op: Op;
  /** What this transaction reads for the object; for a delete, the object being deleted. */
  object: StoreObject;
  /** The committed version the write depends on (0 for a create). */
  expectedVersion: number;
  /** For a create or update: the object without meta as the batch carries it, frozen... */
  fields?: JsonObject;
  /** ...and as JSON text, which `fields` was parsed from. */
  json?: string;
}

/** A transaction's actions, and each one's JSON text for the batch (see encodeBatchOf). */
export interface StagedActions {
  actions: Action[];
  json: string[];
}

export class WriteTransaction<M extends ObjectMap> extends ReadTransaction<M> implements WriteTx<M> {
  /** By `kind \0 id`, in order of first touch: the order actions are proposed and events emitted. */
  private readonly staged = new Map<string, Staged>();

  constructor(
    tables: Tables<M>,
    /** The batch time: stamped as updatedAt (and createdAt) of everything written. */
    private readonly at: string,
  ) {
    super(tables);
  }

  override get<K extends KindOf<M>>(kind: K, id: string): M[K] | undefined {
    const table = this.table(kind);
    const s = this.staged.get(stagedKey(kind, id));
    if (s) return s.op === 'delete' ? undefined : (s.object as M[K]);
    return table.get(id);
  }

  override list<K extends KindOf<M>>(kind: K): M[K][] {
    const out = [...this.table(kind).values()].filter((o) => !this.staged.has(stagedKey(kind, o.id)));
    for (const s of this.staged.values()) {
      if (s.kind === kind && s.op !== 'delete') out.push(s.object as M[K]);
    }
    return out;
  }

  override find<K extends KindOf<M>>(kind: K, index: string, key: string | number): M[K][] {
    const table = this.table(kind);
    const spec = table.indexSpec(index);
    const wanted = normalizeKey(spec, key);
    const out = table.find(index, key).filter((o) => !this.staged.has(stagedKey(kind, o.id)));
    for (const s of this.staged.values()) {
      if (s.kind !== kind || s.op === 'delete') continue;
      if (indexKeys(spec, s.object as M[K]).includes(wanted)) out.push(s.object as M[K]);
    }
    return out;
  }

  override findByIdPrefix<K extends KindOf<M>>(kind: K, prefix: string): PrefixMatch<M[K]> {
    return matchIdPrefix(this.list(kind), prefix);
  }

  create<K extends KindOf<M>>(kind: K, object: NewObject<M[K]>): M[K] {
    const id = checkId(kind, object);
    if (this.get(kind, id)) throw new ExistsError(`${kind} ${id} already exists`);
    const key = stagedKey(kind, id);
    if (this.staged.get(key)?.op === 'delete') {
      // Apply would need a delete and a create for one object in one batch; nothing needs that.
      throw new ExistsError(`${kind} ${id} was deleted in this transaction and cannot be re-created in it`);
    }
    const staged = this.copy(kind, object, { version: 0, createdAt: this.at, updatedAt: this.at });
    this.staged.set(key, { kind, op: 'create', expectedVersion: 0, ...staged });
    return staged.object as M[K];
  }

  update<K extends KindOf<M>>(kind: K, object: M[K]): M[K] {
    const id = checkId(kind, object);
    const current = this.get(kind, id);
    if (!current) throw new NotFoundError(`${kind} ${id} not found`);
    const readVersion = (object as Partial<StoreObject>).meta?.version;
    if (readVersion !== current.meta.version) {
      throw new SequenceConflictError(
        `${kind} ${id} changed since it was read (read version ${readVersion}, now ${current.meta.version})`,
      );
    }
    const key = stagedKey(kind, id);
    const created = this.staged.get(key)?.op === 'create';
    const staged = this.copy(kind, object, { ...current.meta, updatedAt: this.at });
    this.staged.set(key, {
      kind,
      op: created ? 'create' : 'update',
      expectedVersion: created ? 0 : current.meta.version,
      ...staged,
    });
    return staged.object as M[K];
  }

  delete<K extends KindOf<M>>(kind: K, target: string | M[K]): void {
    const id = typeof target === 'string' ? target : checkId(kind, target);
    const current = this.get(kind, id);
    if (!current) throw new NotFoundError(`${kind} ${id} not found`);
    if (typeof target !== 'string' && target.meta?.version !== current.meta.version) {
      throw new SequenceConflictError(
        `${kind} ${id} changed since it was read (read version ${target.meta?.version}, now ${current.meta.version})`,
      );
    }
    const key = stagedKey(kind, id);
    if (this.staged.get(key)?.op === 'create') {
      this.staged.delete(key);
      return;
    }
    this.staged.set(key, { kind, op: 'delete', object: current, expectedVersion: current.meta.version });
  }

  /** The batch to propose, in order of first touch, with each action's JSON text. */
  actions(): StagedActions {
    const out: StagedActions = { actions: [], json: [] };
    for (const s of this.staged.values()) {
      const action: Action =
        s.op === 'delete'
          ? { kind: s.kind, op: 'delete', id: s.object.id, expectedVersion: s.expectedVersion }
          : s.op === 'create'
            ? { kind: s.kind, op: 'create', object: s.fields! }
            : { kind: s.kind, op: 'update', object: s.fields!, expectedVersion: s.expectedVersion };
      out.actions.push(action);
      out.json.push(encodeAction(action, s.json));
    }
    return out;
  }

  /**
   * A private frozen copy of the caller's object, as the transaction reads it until commit. The object
   * is turned into JSON once, here: that text goes into the batch as it is, and the copy is exactly
   * what parsing it gives (see frozenJsonCopy), so what the transaction reads is what every manager
   * will decode from the entry (what JSON cannot carry, such as undefined fields, is gone already), and
   * the proposing store may apply the copy itself when that very entry commits (see apply.ts).
   */
  private copy(
    kind: string,
    object: object,
    meta: StoreObject['meta'],
  ): { object: StoreObject; fields: JsonObject; json: string } {
    const { meta: _ignored, ...rest } = object as JsonObject;
    const copy = frozenJsonCopy(rest);
    if (!copy) throw new InvalidObjectError(`${kind} object does not serialize to a JSON object`);
    const { fields, json } = copy;
    return { object: deepFreeze({ id: fields.id as string, meta, ...fields }), fields, json };
  }
}

function stagedKey(kind: string, id: string): string {
  return `${kind}\0${id}`;
}

function checkId(kind: string, object: object): string {
  const id = (object as { id?: unknown }).id;
  if (typeof id !== 'string' || id === '') throw new InvalidObjectError(`${kind} object without id`);
  return id;
}
