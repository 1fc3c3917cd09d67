// WAL record framing (integers big-endian):
//   u32 length | u32 crc | u8 kind | body            length = 1 + body length; crc = CRC32(kind | body)
// A record is valid only if it is complete and its CRC matches; the first one that is not ends the log
// (decodeRecords reports where), which is how a torn or partly written tail is recognised.
//
// Bodies:
//   Entry      u64 index | u64 term | u8 type | data
//   HardState  u64 term | u64 vote | u64 commit
//   Snapshot   JSON {index, term, confState}         a snapshot installed: the log before it is gone
//   Compact    u64 index | u64 term                  entries up to index dropped (covered by a snapshot)
//   Checkpoint JSON {hardState, snapshot, offset}    first record of every segment: the state so far
//   SnapshotTaken JSON {index, term, confState}      a local snapshot's file is durable; the log stays

import { crc32 } from 'node:zlib';
import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '../../types.js';
import { isConfState, readU64, writeU64 } from '../codec.js';

export enum RecordKind {
  Entry = 1,
  HardState = 2,
  Snapshot = 3,
  Compact = 4,
  Checkpoint = 5,
  SnapshotTaken = 6,
}

export interface Checkpoint {
  hardState: HardState;
  snapshot: SnapshotMetadata;
  offset: { index: number; term: number };
}

export type WalRecord =
  | { kind: RecordKind.Entry; entry: Entry }
  | { kind: RecordKind.HardState; hardState: HardState }
  | { kind: RecordKind.Snapshot; snapshot: SnapshotMetadata }
  | { kind: RecordKind.Compact; index: number; term: number }
  | { kind: RecordKind.Checkpoint; checkpoint: Checkpoint }
  | { kind: RecordKind.SnapshotTaken; snapshot: SnapshotMetadata };

const HEADER = 4 + 4 + 1;
/** A length past this is garbage, not a record (an entry is capped far below by maxSizePerMsg). */
const MAX_RECORD = 256 << 20;

function frame(kind: RecordKind, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + body.byteLength);
  out.writeUInt32BE(1 + body.byteLength, 0);
  out.writeUInt8(kind, 8);
  out.set(body, HEADER);
  out.writeUInt32BE(crc32(out.subarray(8)), 4);
  return out;
}

function u64s(...ns: number[]): Buffer {
  const b = Buffer.allocUnsafe(8 * ns.length);
  ns.forEach((n, i) => writeU64(b, 8 * i, n));
  return b;
}

export function encodeRecord(r: WalRecord): Buffer {
  switch (r.kind) {
    case RecordKind.Entry: {
      const e = r.entry;
      const head = Buffer.allocUnsafe(17);
      writeU64(head, 0, e.index);
      writeU64(head, 8, e.term);
      head.writeUInt8(e.type, 16);
      return frame(r.kind, Buffer.concat([head, e.data]));
    }
    case RecordKind.HardState:
      return frame(r.kind, u64s(r.hardState.term, r.hardState.vote, r.hardState.commit));
    case RecordKind.Snapshot:
    case RecordKind.SnapshotTaken:
      return frame(r.kind, Buffer.from(JSON.stringify(r.snapshot)));
    case RecordKind.Compact:
      return frame(r.kind, u64s(r.index, r.term));
    case RecordKind.Checkpoint:
      return frame(r.kind, Buffer.from(JSON.stringify(r.checkpoint)));
  }
}

export interface DecodeResult {
  records: WalRecord[];
  /** Bytes of valid records from the start; less than the input's length when the tail is bad. */
  validLength: number;
  /** Why decoding stopped before the end, if it did. */
  badTail?: string;
}

/** Decodes records until the end or the first incomplete, unchecksummed or malformed one. */
export function decodeRecords(buf: Uint8Array): DecodeResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: WalRecord[] = [];
  let off = 0;
  const stop = (why: string): DecodeResult => ({ records, validLength: off, badTail: why });
  while (off < b.byteLength) {
    if (b.byteLength - off < HEADER) return stop('partial record header');
    const length = b.readUInt32BE(off);
    if (length === 0 || length > MAX_RECORD) return stop(`impossible record length ${length}`);
    if (off + 8 + length > b.byteLength) return stop('partial record');
    const body = b.subarray(off + 8, off + 8 + length);
    if (crc32(body) !== b.readUInt32BE(off + 4)) return stop('checksum mismatch');
    const rec = parseBody(body[0], body.subarray(1));
    if (!rec) return stop(`malformed record of kind ${body[0]}`);
    records.push(rec);
    off += 8 + length;
  }
  return { records, validLength: off };
}

function parseBody(kind: number, body: Buffer): WalRecord | undefined {
  try {
    switch (kind) {
      case RecordKind.Entry:
        if (body.byteLength < 17) return undefined;
        return {
          kind,
          entry: {
            index: readU64(body, 0),
            term: readU64(body, 8),
            type: body.readUInt8(16) as EntryType,
            data: new Uint8Array(body.subarray(17)),
          },
        };
      case RecordKind.HardState:
        if (body.byteLength !== 24) return undefined;
        return {
          kind,
          hardState: { term: readU64(body, 0), vote: readU64(body, 8), commit: readU64(body, 16) },
        };
      case RecordKind.Snapshot:
      case RecordKind.SnapshotTaken: {
        const s = JSON.parse(body.toString('utf8')) as SnapshotMetadata;
        return isSnapshotMetadata(s) ? { kind, snapshot: s } : undefined;
      }
      case RecordKind.Compact:
        if (body.byteLength !== 16) return undefined;
        return { kind, index: readU64(body, 0), term: readU64(body, 8) };
      case RecordKind.Checkpoint: {
        const c = JSON.parse(body.toString('utf8')) as Checkpoint;
        return isSnapshotMetadata(c.snapshot) && c.hardState && c.offset
          ? { kind, checkpoint: c }
          : undefined;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function isSnapshotMetadata(s: { index?: unknown; term?: unknown; confState?: unknown }): boolean {
  return (
    typeof s === 'object' &&
    s !== null &&
    Number.isSafeInteger(s.index) &&
    Number.isSafeInteger(s.term) &&
    isConfState(s.confState as ConfState)
  );
}
