// Byte layouts of what the storage keeps in LMDB. Every record carries a CRC32 so that a flipped bit on
// disk (LMDB itself has no checksums) is detected when read, instead of silently steering consensus.
//
//   log key    u64 big-endian index (so LMDB's byte order is log order)
//   log value  u32 crc | u64 term | u8 type | data...
//              crc = CRC32(u64 index | u64 term | u8 type | data): the index is covered although it lives
//              in the key, so a value found under the wrong key fails too.
//   state      u32 crc | UTF-8 JSON; crc = CRC32(JSON bytes)

import { crc32 } from 'node:zlib';
import { EntryType, type ConfState, type Entry, type HardState } from '../types.js';
import { CorruptLogError, CorruptStateError } from './errors.js';

const TWO_32 = 2 ** 32;
const ENTRY_HEADER = 4 + 8 + 1;

export function writeU64(buf: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a u64-safe integer: ${n}`);
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

export function readU64(buf: Uint8Array, offset: number): number {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return view.readUInt32BE(offset) * TWO_32 + view.readUInt32BE(offset + 4);
}

export function indexKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  writeU64(key, 0, index);
  return key;
}

export function keyIndex(key: Uint8Array): number {
  if (key.byteLength !== 8) throw new CorruptLogError(-1, `log key of ${key.byteLength} bytes`);
  const index = readU64(key, 0);
  if (!Number.isSafeInteger(index)) throw new CorruptLogError(-1, 'log key out of range');
  return index;
}

function entryChecksum(index: number, term: number, type: number, data: Uint8Array): number {
  const head = Buffer.allocUnsafe(17);
  writeU64(head, 0, index);
  writeU64(head, 8, term);
  head[16] = type;
  return crc32(data, crc32(head));
}

/** CRC32(index | term | type | data) of an encoded value, whose bytes after the crc are term | type | data. */
function encodedChecksum(index: number, value: Buffer): number {
  const indexBytes = Buffer.allocUnsafe(8);
  writeU64(indexBytes, 0, index);
  return crc32(value.subarray(4), crc32(indexBytes));
}

export function encodeEntry(e: Entry): Buffer {
  const value = Buffer.allocUnsafe(ENTRY_HEADER + e.data.byteLength);
  writeU64(value, 4, e.term);
  value[12] = e.type;
  value.set(e.data, ENTRY_HEADER);
  // One CRC pass over the record as laid out (the same sum entryChecksum gives), not a copy of its head.
  value.writeUInt32BE(encodedChecksum(e.index, value), 0);
  return value;
}

/** Decodes the value stored under `index`, verifying its checksum; throws CorruptLogError. */
export function decodeEntry(index: number, value: Uint8Array | undefined): Entry {
  if (value === undefined) throw new CorruptLogError(index, 'entry missing');
  if (value.byteLength < ENTRY_HEADER) {
    throw new CorruptLogError(index, `record of ${value.byteLength} bytes is shorter than its header`);
  }
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const term = readU64(buf, 4);
  if (!Number.isSafeInteger(term)) throw new CorruptLogError(index, 'term out of range');
  const type = buf[12];
  // Copy into a plain Uint8Array: LMDB may hand out views of memory it reuses.
  const data = new Uint8Array(buf.subarray(ENTRY_HEADER));
  if (buf.readUInt32BE(0) !== entryChecksum(index, term, type, data)) {
    throw new CorruptLogError(index, 'checksum mismatch');
  }
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
    throw new CorruptLogError(index, `unknown entry type ${type}`);
  }
  return { index, term, type, data };
}

function encodeRecord(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.byteLength);
  out.writeUInt32BE(crc32(json), 0);
  json.copy(out, 4);
  return out;
}

function decodeRecord(key: string, value: Uint8Array): unknown {
  if (value.byteLength < 4) throw new CorruptStateError(key, `record of ${value.byteLength} bytes`);
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const json = buf.subarray(4);
  if (buf.readUInt32BE(0) !== crc32(json)) throw new CorruptStateError(key, 'checksum mismatch');
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new CorruptStateError(key, `unparsable: ${(err as Error).message}`);
  }
}

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function isConfState(v: unknown): v is ConfState {
  const c = v as ConfState;
  return (
    typeof c === 'object' &&
    c !== null &&
    Array.isArray(c.voters) &&
    Array.isArray(c.learners) &&
    c.voters.every(isIndex) &&
    c.learners.every(isIndex)
  );
}

export const HARD_STATE_KEY = 'hardstate';
export const META_KEY = 'meta';

export function encodeHardState(hs: HardState): Buffer {
  return encodeRecord({ term: hs.term, vote: hs.vote, commit: hs.commit });
}

export function decodeHardState(value: Uint8Array): HardState {
  const v = decodeRecord(HARD_STATE_KEY, value) as HardState;
  if (!isIndex(v?.term) || !isIndex(v.vote) || !isIndex(v.commit)) {
    throw new CorruptStateError(HARD_STATE_KEY, 'malformed fields');
  }
  return { term: v.term, vote: v.vote, commit: v.commit };
}

/**
 * Where the log starts and which snapshot is current. `offset` is the compaction point: the entry at
 * offset.index is gone but its term is kept (Raft's log-matching check needs it), so the first stored
 * entry is offset.index + 1. offset.index <= snapshot.index always.
 */
export interface LogMeta {
  snapshot: { index: number; term: number; confState: ConfState };
  offset: { index: number; term: number };
}

export function encodeMeta(m: LogMeta): Buffer {
  return encodeRecord({ version: 1, snapshot: m.snapshot, offset: m.offset });
}

export function decodeMeta(value: Uint8Array): LogMeta {
  const v = decodeRecord(META_KEY, value) as LogMeta & { version: number };
  const ok =
    v?.version === 1 &&
    isIndex(v.snapshot?.index) &&
    isIndex(v.snapshot.term) &&
    isConfState(v.snapshot.confState) &&
    isIndex(v.offset?.index) &&
    isIndex(v.offset.term) &&
    v.offset.index <= v.snapshot.index;
  if (!ok) throw new CorruptStateError(META_KEY, 'malformed fields');
  return { snapshot: v.snapshot, offset: v.offset };
}
