// What the node adds around the application's bytes so it can track its own requests through the log.
//
// - A proposal is prefixed with a 16-byte header naming the proposing member, a random per-process
//   epoch and a sequence number. When the entry is applied, the proposer finds its waiting caller by
//   the header; the epoch keeps entries proposed before a restart from resolving callers after it.
// - A ConfChange's context is JSON holding the member's address (so every member learns how to reach
//   it from the log alone) and the same request id.
// - A snapshot holds the member addresses next to the application's state: a member restored from a
//   snapshot has no log to learn them from.
import type { RaftId } from '../types.js';

export const PROPOSAL_HEADER_BYTES = 16;
const HEADER_MAGIC = 0x534c5250; // 'SLRP'

export interface RequestId {
  proposer: RaftId;
  epoch: number;
  seq: number;
}

export function encodeProposal(id: RequestId, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(PROPOSAL_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, HEADER_MAGIC);
  view.setUint32(4, id.proposer);
  view.setUint32(8, id.epoch);
  view.setUint32(12, id.seq);
  out.set(payload, PROPOSAL_HEADER_BYTES);
  return out;
}

/** Splits an entry's data into request id and payload; `undefined` id for data that has no header. */
export function decodeProposal(data: Uint8Array): { id: RequestId | undefined; payload: Uint8Array } {
  if (data.length < PROPOSAL_HEADER_BYTES) return { id: undefined, payload: data };
  const view = new DataView(data.buffer, data.byteOffset, PROPOSAL_HEADER_BYTES);
  if (view.getUint32(0) !== HEADER_MAGIC) return { id: undefined, payload: data };
  return {
    id: { proposer: view.getUint32(4), epoch: view.getUint32(8), seq: view.getUint32(12) },
    payload: data.subarray(PROPOSAL_HEADER_BYTES),
  };
}

export interface MemberContext {
  addr: string;
  request?: RequestId;
}

export function encodeMemberContext(ctx: MemberContext): Uint8Array {
  return Buffer.from(JSON.stringify(ctx));
}

export function decodeMemberContext(data: Uint8Array): MemberContext {
  if (data.length === 0) return { addr: '' };
  try {
    const parsed = JSON.parse(
      Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'),
    ) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as MemberContext).addr === 'string') {
      return parsed as MemberContext;
    }
  } catch {
    // fall through: a context written by something else carries no address we can use
  }
  return { addr: '' };
}

/** Snapshot layout: u32 length of the members JSON, the JSON, then the application's bytes. */
export function encodeSnapshotData(members: Record<string, string>, app: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(members));
  const out = new Uint8Array(4 + json.length + app.length);
  new DataView(out.buffer).setUint32(0, json.length);
  out.set(json, 4);
  out.set(app, 4 + json.length);
  return out;
}

export function decodeSnapshotData(data: Uint8Array): { members: Map<RaftId, string>; app: Uint8Array } {
  if (data.length < 4) return { members: new Map(), app: data };
  const len = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
  const json = Buffer.from(data.buffer, data.byteOffset + 4, len).toString('utf8');
  const members = new Map<RaftId, string>();
  for (const [id, addr] of Object.entries(JSON.parse(json) as Record<string, string>))
    members.set(Number(id), addr);
  return { members, app: data.subarray(4 + len) };
}
