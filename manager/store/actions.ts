// Store actions and the batch envelope that carries them through Raft.
//
// A write transaction becomes one Batch: JSON in a versioned envelope, proposed as one Raft entry and
// applied atomically on every manager. The envelope holds everything apply needs so that apply is a
// function of (state, entry bytes, index) alone: the proposer's timestamp and a request id that lets
// the proposing store hand the outcome back to its caller.
import { decodeUtf8, encodeUtf8, isPlainObject, type JsonObject } from './json.js';

export const BATCH_FORMAT_VERSION = 1;

/** Ids are Swarm's 25 base-36 characters in practice; the bound only keeps garbage out of indexes. */
export const MAX_ID_LENGTH = 256;

export const OPS = ['create', 'update', 'delete'] as const;
export type Op = (typeof OPS)[number];

/** The object travels without `meta`: apply stamps meta from the entry's index and the batch time. */
export type Action =
  | { kind: string; op: 'create'; object: JsonObject }
  | { kind: string; op: 'update'; object: JsonObject; expectedVersion: number }
  | { kind: string; op: 'delete'; id: string; expectedVersion: number };

export interface Batch {
  v: typeof BATCH_FORMAT_VERSION;
  /** Random per proposal; only the proposing store knows it, and waits for its outcome under it. */
  requestId: string;
  /** ISO time chosen at propose time: becomes updatedAt (and createdAt) of every object written. */
  at: string;
  actions: Action[];
}

export function encodeBatch(batch: Batch): Uint8Array {
  return encodeUtf8(JSON.stringify(batch));
}

export type DecodedBatch = { ok: true; batch: Batch } | { ok: false; reason: string; requestId?: string };

/**
 * Decodes and checks an entry's bytes. Never throws: a malformed entry must be skipped identically on
 * every manager, so the answer depends on the bytes and `kinds` only. Kind-specific object validation
 * is apply's (it rejects the batch rather than calling the entry malformed).
 */
export function decodeBatch(data: Uint8Array, kinds: ReadonlySet<string>): DecodedBatch {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeUtf8(data));
  } catch (err) {
    return { ok: false, reason: `not UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isPlainObject(parsed)) return { ok: false, reason: 'not a JSON object' };
  const requestId =
    typeof parsed.requestId === 'string' && parsed.requestId !== '' ? parsed.requestId : undefined;
  const fail = (reason: string): DecodedBatch =>
    requestId === undefined ? { ok: false, reason } : { ok: false, reason, requestId };
  if (parsed.v !== BATCH_FORMAT_VERSION) return fail(`unsupported batch format version ${String(parsed.v)}`);
  if (requestId === undefined) return fail('requestId: must be a non-empty string');
  if (typeof parsed.at !== 'string' || parsed.at === '') return fail('at: must be a non-empty string');
  if (!Array.isArray(parsed.actions)) return fail('actions: must be an array');
  const actions: Action[] = [];
  for (const [i, raw] of parsed.actions.entries()) {
    const action = decodeAction(raw, kinds);
    if (typeof action === 'string') return fail(`actions[${i}]: ${action}`);
    actions.push(action);
  }
  return { ok: true, batch: { v: BATCH_FORMAT_VERSION, requestId, at: parsed.at, actions } };
}

function decodeAction(raw: unknown, kinds: ReadonlySet<string>): Action | string {
  if (!isPlainObject(raw)) return 'not an object';
  const { kind, op } = raw;
  if (typeof kind !== 'string' || !kinds.has(kind)) return `unknown kind ${JSON.stringify(kind)}`;
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op))
    return `unknown op ${JSON.stringify(op)}`;
  if (op !== 'create' && !isVersion(raw.expectedVersion))
    return 'expectedVersion: must be a non-negative integer';
  if (op === 'delete') {
    if (!isId(raw.id)) return `id: must be a string of 1..${MAX_ID_LENGTH} characters`;
    return { kind, op, id: raw.id, expectedVersion: raw.expectedVersion as number };
  }
  const object = raw.object;
  if (!isPlainObject(object)) return 'object: must be an object';
  if (!isId(object.id)) return `object.id: must be a string of 1..${MAX_ID_LENGTH} characters`;
  if (op === 'create') return { kind, op, object };
  return { kind, op: 'update', object, expectedVersion: raw.expectedVersion as number };
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
}

function isVersion(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
