// What the node adds around the application's bytes so it can track its own requests through the log.
//
// - A proposal is prefixed with a 20-byte header naming the proposing member, a random per-process
//   epoch and a sequence number. When the entry is applied, the proposer finds its waiting caller by
//   the header; the epoch keeps entries proposed before a restart from resolving callers after it.
//   The proposer takes 8 bytes: a RaftId is any positive safe integer (types.ts), and an id cut to 32
//   bits would never match its proposer again, leaving every propose() to time out.
// - A ConfChange's context is JSON holding the member's address (so every member learns how to reach
//   it from the log alone) and the same request id.
// - A ReadIndex context holds the epoch and a sequence number, for the same reason.
// - A snapshot holds the member addresses next to the application's state: a member restored from a
//   snapshot has no log to learn them from.
import { randomInt } from 'node:crypto';
import { decodeConfChange } from '../core/index.js';
import { EntryType, type Entry, type RaftId } from '../types.js';

/** Layout: magic u32 | proposer u64 | epoch u32 | seq u32, all big-endian. */
export const PROPOSAL_HEADER_BYTES = 20;
const HEADER_MAGIC = 0x534c5032; // 'SLP2': the first (and only) format with a 64-bit proposer

export interface RequestId {
  proposer: RaftId;
  epoch: number;
  seq: number;
}

export function encodeProposal(id: RequestId, payload: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(id.proposer) || id.proposer <= 0) {
    throw new RangeError(`proposal header: proposer ${id.proposer} is not a positive safe integer`);
  }
  const out = new Uint8Array(PROPOSAL_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, HEADER_MAGIC);
  view.setBigUint64(4, BigInt(id.proposer));
  view.setUint32(12, id.epoch);
  view.setUint32(16, id.seq);
  out.set(payload, PROPOSAL_HEADER_BYTES);
  return out;
}

/** Splits an entry's data into request id and payload; `undefined` id for data that has no header. */
export function decodeProposal(data: Uint8Array): { id: RequestId | undefined; payload: Uint8Array } {
  if (data.length < PROPOSAL_HEADER_BYTES) return { id: undefined, payload: data };
  const view = new DataView(data.buffer, data.byteOffset, PROPOSAL_HEADER_BYTES);
  if (view.getUint32(0) !== HEADER_MAGIC) return { id: undefined, payload: data };
  const proposer = view.getBigUint64(4);
  // Beyond 2^53 it cannot be one of our ids; treat it as data someone else framed.
  if (proposer > BigInt(Number.MAX_SAFE_INTEGER)) return { id: undefined, payload: data };
  return {
    id: { proposer: Number(proposer), epoch: view.getUint32(12), seq: view.getUint32(16) },
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

/**
 * Names this process's requests so it can find them in the log (proposals, conf changes) and in
 * ReadIndex answers. The epoch is random per process: requests of an earlier run of this member never
 * match a caller waiting in this one.
 */
export class RequestIds {
  readonly epoch = randomInt(1, 2 ** 32 - 1);
  private seq = 0;

  constructor(readonly self: RaftId) {}

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  next(): RequestId {
    return { proposer: this.self, epoch: this.epoch, seq: this.nextSeq() };
  }

  isMine(id: RequestId | undefined): id is RequestId {
    return id !== undefined && id.proposer === this.self && id.epoch === this.epoch;
  }

  /** The sequence number of our request carried by a log entry, if it is one of ours. */
  ownSeq(e: Entry): number | undefined {
    let id: RequestId | undefined;
    if (e.type === EntryType.Normal) {
      id = decodeProposal(e.data).id;
    } else {
      try {
        id = decodeMemberContext(decodeConfChange(e.data).context).request;
      } catch {
        id = undefined; // not a conf change we can read: not ours
      }
    }
    return this.isMine(id) ? id.seq : undefined;
  }

  /** A ReadIndex request's context: the epoch and the request's sequence number. */
  readContext(seq: number): Uint8Array {
    const ctx = new Uint8Array(8);
    const view = new DataView(ctx.buffer);
    view.setUint32(0, this.epoch);
    view.setUint32(4, seq);
    return ctx;
  }

  /** The sequence number of one of our own ReadIndex requests, else undefined. */
  readSeq(ctx: Uint8Array): number | undefined {
    if (ctx.length !== 8) return undefined;
    const view = new DataView(ctx.buffer, ctx.byteOffset, 8);
    return view.getUint32(0) === this.epoch ? view.getUint32(4) : undefined;
  }
}
