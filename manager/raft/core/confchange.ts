// The wire form of a ConfChange inside a log entry (EntryType.ConfChange):
//   byte 0     format version (1)
//   byte 1     ConfChangeType
//   bytes 2-9  member id, unsigned 64-bit big-endian
//   bytes 10-  context (opaque application data, e.g. the member's address)

import { type ConfChange, ConfChangeType, NONE } from '../types.js';

const VERSION = 1;
const HEADER = 10;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!Number.isSafeInteger(cc.id) || cc.id <= NONE) throw new Error(`raft: invalid member id ${cc.id}`);
  const out = new Uint8Array(HEADER + cc.context.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, VERSION);
  view.setUint8(1, cc.type);
  view.setBigUint64(2, BigInt(cc.id));
  out.set(cc.context, HEADER);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < HEADER) throw new Error(`raft: conf change of ${data.byteLength} bytes is truncated`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const version = view.getUint8(0);
  if (version !== VERSION) throw new Error(`raft: unknown conf change format ${version}`);
  const type = view.getUint8(1);
  if (!(type in ConfChangeType)) throw new Error(`raft: unknown conf change type ${type}`);
  const id = view.getBigUint64(2);
  if (id === 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`raft: invalid member id ${id}`);
  return { type: type as ConfChangeType, id: Number(id), context: data.slice(HEADER) };
}
