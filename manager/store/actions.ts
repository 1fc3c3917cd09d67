// Store actions and the batch envelope that carries them through Raft.
//
// A write transaction becomes one Batch: JSON in a versioned envelope, proposed as one Raft entry and
// applied atomically on every manager. The envelope holds everything apply needs so that apply is a
// function of (state, entry bytes, index) alone: the proposer's timestamp and a request id that lets
// the proposing store hand the outcome back to its caller.
import { decodeUtf8, encodeUtf8, isPlainObject, type JsonObject } from './json.js';

export const BATCH_FORMAT_VERSION = 1;

/** Ids are Swarm's 25 base-36 characters in practice; the bound only keeps garbage out of indexes. */
const MAX_ID_LENGTH = 256;

const OPS = ['create', 'update', 'delete'] as const;
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

/** The batch as entry bytes: exactly `JSON.stringify(batch)`, with the envelope's keys in this order. */
export function encodeBatch(batch: Batch): Uint8Array {
  return encodeBatchOf(
    batch,
    batch.actions.map((a) => encodeAction(a)),
  );
}

/**
 * The batch's bytes from its actions already serialized by `encodeAction`: a write transaction turns
 * each object into JSON once, when it is staged, and the batch is only the concatenation.
 */
export function encodeBatchOf(envelope: Omit<Batch, 'actions'>, actionsJson: readonly string[]): Uint8Array {
  const { v, requestId, at } = envelope;
  return encodeUtf8(
    `{"v":${JSON.stringify(v)},"requestId":${JSON.stringify(requestId)},"at":${JSON.stringify(at)},"actions":[${actionsJson.join(',')}]}`,
  );
}

/**
 * One action as `JSON.stringify(action)` gives it (keys kind, op, object|id, expectedVersion), using
 * `objectJson` as the object's text when the caller already has it.
 */
export function encodeAction(action: Action, objectJson?: string): string {
  const head = `{"kind":${JSON.stringify(action.kind)},"op":${JSON.stringify(action.op)}`;
  if (action.op === 'delete') {
    return `${head},"id":${JSON.stringify(action.id)},"expectedVersion":${JSON.stringify(action.expectedVersion)}}`;
  }
  const object = objectJson ?? JSON.stringify(action.object);
  if (action.op === 'create') return `${head},"object":${object}}`;
  return `${head},"object":${object},"expectedVersion":${JSON.stringify(action.expectedVersion)}}`;
}

// Every batch encodeBatchOf writes starts with this, so the request id can be read without parsing.
const REQUEST_ID_PREFIX = encodeUtf8(`{"v":${BATCH_FORMAT_VERSION},"requestId":"`);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const lenientDecoder = new TextDecoder();

/**
 * The request id of entry bytes written by encodeBatchOf, read from the prefix alone; undefined for
 * anything else (another encoding, an id with escapes). Only a hint for finding this manager's own
 * proposal: apply trusts that proposal only if all the bytes are equal.
 */
export function peekRequestId(data: Uint8Array): string | undefined {
  const start = REQUEST_ID_PREFIX.length;
  if (data.length <= start) return undefined;
  for (let i = 0; i < start; i++) if (data[i] !== REQUEST_ID_PREFIX[i]) return undefined;
  for (let i = start; i < data.length; i++) {
    if (data[i] === BACKSLASH) return undefined;
    if (data[i] === QUOTE) return i === start ? undefined : lenientDecoder.decode(data.subarray(start, i));
  }
  return undefined;
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
  return checkBatch(parsed, kinds);
}

/**
 * decodeBatch after the parse: checks a value as JSON.parse gave it. Apply also runs it on a batch
 * this manager staged itself, which is such a value (see apply.ts), so both paths check alike.
 */
export function checkBatch(parsed: unknown, kinds: ReadonlySet<string>): DecodedBatch {
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
