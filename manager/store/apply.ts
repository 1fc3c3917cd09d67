// Applying one committed entry to the tables: the store's pure core.
//
// The outcome depends only on (tables, entry bytes, index): no clock, no randomness, no I/O. So every
// manager that applies the same log ends with the same state, and the proposing manager can tell its
// caller what happened. A batch is all or nothing: actions are applied in order with an undo log, the
// unique indexes are checked on the result, and any failure rolls the whole batch back.
import { checkBatch, decodeBatch, type Action, type Batch } from './actions.js';
import type { ApplyError } from './errors.js';
import { deepFreeze } from './json.js';
import type { Meta, StoreObject } from '../../api/objects/index.js';
import type { ObjectMap, Table, Tables } from './tables.js';
import type { ObjectEvent } from './watch.js';

export type ApplyOutcome = { ok: true; index: number } | { ok: false; index: number; error: ApplyError };

export interface ApplyResult<M extends ObjectMap> {
  /** The batch's request id, when the bytes carried one (even a malformed batch may). */
  requestId?: string;
  outcome: ApplyOutcome;
  /** One event per action, in action order; empty unless the batch was applied. */
  events: ObjectEvent<M>[];
  /** Set when the entry is not a store batch at all: why it was skipped. */
  malformed?: string;
}

class Rejection extends Error {
  constructor(readonly error: ApplyError) {
    super(error.message);
  }
}

type AnyTable = Table<StoreObject>;

interface Undo {
  table: AnyTable;
  id: string;
  previous: StoreObject | undefined;
}

/**
 * A batch as its proposer staged it, with the bytes it proposed: `batch` is what JSON.parse of `data`
 * gives (the objects are parsed from the very text that went into the bytes; the envelope fields and
 * versions are strings and integers, which JSON carries exactly), already frozen.
 */
export interface ProposedBatch {
  data: Uint8Array;
  batch: Batch;
}

/**
 * Applies the entry `data` at `index`. Given `proposed`, the batch this manager proposed, and bytes
 * equal to it, the staged batch stands in for JSON.parse(data): the proposing manager skips parsing
 * and re-freezing its own objects, and every check (format, kinds, ids, versions, validation, unique
 * names) still runs on it. Any other bytes are decoded; so the outcome is the same either way.
 */
export function applyEntry<M extends ObjectMap>(
  tables: Tables<M>,
  kinds: ReadonlySet<string>,
  data: Uint8Array,
  index: number,
  proposed?: ProposedBatch,
): ApplyResult<M> {
  const decoded =
    proposed !== undefined && sameBytes(proposed.data, data)
      ? checkBatch(proposed.batch, kinds)
      : decodeBatch(data, kinds);
  if (!decoded.ok) {
    const outcome: ApplyOutcome = {
      ok: false,
      index,
      error: {
        code: 'malformed-entry',
        message: `malformed store entry at index ${index}: ${decoded.reason}`,
      },
    };
    return { requestId: decoded.requestId, outcome, events: [], malformed: decoded.reason };
  }
  const { batch } = decoded;
  const undo: Undo[] = [];
  const events: ObjectEvent<M>[] = [];
  try {
    for (const action of batch.actions) {
      const table = (tables as unknown as Record<string, AnyTable>)[action.kind];
      events.push(applyAction(table, action, batch.at, index, undo) as ObjectEvent<M>);
    }
    checkUnique(undo);
  } catch (err) {
    rollback(undo);
    const error: ApplyError =
      err instanceof Rejection
        ? err.error
        : // Validation and index code must not throw on validated input; if it does anyway, the batch is
          // refused the same way everywhere instead of leaving half-applied tables.
          {
            code: 'invalid-object',
            message: `store apply failed: ${err instanceof Error ? err.message : String(err)}`,
          };
    return { requestId: batch.requestId, outcome: { ok: false, index, error }, events: [] };
  }
  return { requestId: batch.requestId, outcome: { ok: true, index }, events };
}

function applyAction(
  table: AnyTable,
  action: Action,
  at: string,
  index: number,
  undo: Undo[],
): ObjectEvent<ObjectMap> {
  const kind = table.kind;
  if (action.op === 'create') {
    const id = action.object.id as string;
    if (table.get(id)) reject('exists', `${kind} ${id} already exists`);
    const object = stamp(table, action.object, { version: index, createdAt: at, updatedAt: at });
    table.put(object);
    undo.push({ table, id, previous: undefined });
    return { type: 'object', kind, op: 'create', object, index };
  }
  const id = action.op === 'delete' ? action.id : (action.object.id as string);
  const current = table.get(id);
  if (!current) reject('not-found', `${kind} ${id} not found`);
  if (current.meta.version !== action.expectedVersion) {
    reject(
      'sequence-conflict',
      `${kind} ${id} changed since it was read (read version ${action.expectedVersion}, now ${current.meta.version})`,
    );
  }
  undo.push({ table, id, previous: current });
  if (action.op === 'delete') {
    table.remove(id);
    return { type: 'object', kind, op: 'delete', object: current, index };
  }
  const object = stamp(table, action.object, {
    version: index,
    createdAt: current.meta.createdAt,
    updatedAt: at,
  });
  table.put(object);
  return { type: 'object', kind, op: 'update', object, oldObject: current, index };
}

/** The stored form: the action's object with the store's meta, validated, then frozen for good. */
function stamp(table: AnyTable, raw: Record<string, unknown>, meta: Meta): StoreObject {
  // Entries carry no meta, and then one copy does (id first, then meta, then the rest in order); a
  // writer's meta is dropped first, or the spread would put it back.
  let object: StoreObject & Record<string, unknown>;
  if (Object.hasOwn(raw, 'meta')) {
    const { meta: _ignored, ...fields } = raw;
    object = { id: fields.id as string, meta, ...fields };
  } else {
    object = { id: raw.id as string, meta, ...raw };
  }
  const problem = table.spec.validate(object);
  if (problem) reject('invalid-object', `invalid ${table.kind} ${object.id}: ${problem}`);
  return deepFreeze(object);
}

function checkUnique(undo: readonly Undo[]): void {
  for (const { table, id } of undo) {
    const [violation] = table.uniqueViolations(id);
    if (violation) {
      reject(
        'name-conflict',
        `${table.kind} ${violation.index} ${JSON.stringify(violation.key)} is already in use`,
      );
    }
  }
}

function rollback(undo: readonly Undo[]): void {
  for (let i = undo.length - 1; i >= 0; i--) {
    const { table, id, previous } = undo[i];
    if (previous) table.put(previous);
    else table.remove(id);
  }
}

function reject(code: ApplyError['code'], message: string): never {
  throw new Rejection({ code, message });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.compare(a, b) === 0;
}
