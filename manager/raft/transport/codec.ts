// Shapes of the decoded protobuf objects and their conversion to the core's types.
//
// Outgoing messages need no conversion: the field names of types.ts match the proto's camelCase names,
// so protobufjs's fromObject reads them directly and keeps byte arrays without copying. Incoming objects
// carry every field (loader option `defaults`), with null for absent sub-messages, which the core's
// types express as `undefined`; that is all decodeMessage fixes up.
import type { ConfState, Entry, Message, Snapshot } from '../types.js';

export interface WireEntry {
  term: number;
  index: number;
  type: number;
  data: Uint8Array;
}

export interface WireSnapshot {
  metadata: { index: number; term: number; confState: ConfState | null } | null;
  data: Uint8Array;
}

export interface WireMessage {
  type: number;
  to: number;
  from: number;
  term: number;
  logTerm: number;
  index: number;
  entries: WireEntry[];
  commit: number;
  snapshot: WireSnapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

export interface MessageBatch {
  from: number;
  fromAddr: string;
  messages: Message[];
}

export interface WireMessageBatch {
  from: number;
  fromAddr: string;
  messages: WireMessage[];
}

export interface SnapshotChunk {
  from: number;
  fromAddr: string;
  /** Set on the first chunk only: the Snap message whose snapshot data the chunks carry. */
  message?: Message;
  data: Uint8Array;
}

export interface WireSnapshotChunk {
  from: number;
  fromAddr: string;
  message: WireMessage | null;
  data: Uint8Array;
}

function decodeSnapshot(s: WireSnapshot): Snapshot {
  const md = s.metadata;
  return {
    metadata: {
      index: md?.index ?? 0,
      term: md?.term ?? 0,
      confState: { voters: md?.confState?.voters ?? [], learners: md?.confState?.learners ?? [] },
    },
    data: s.data,
  };
}

export function decodeMessage(w: WireMessage): Message {
  const m: Message = {
    type: w.type,
    to: w.to,
    from: w.from,
    term: w.term,
    logTerm: w.logTerm,
    index: w.index,
    entries: w.entries as Entry[],
    commit: w.commit,
    reject: w.reject,
    rejectHint: w.rejectHint,
    context: w.context,
  };
  if (w.snapshot) m.snapshot = decodeSnapshot(w.snapshot);
  return m;
}

/** A rough wire size of a message, used to bound a batch's size below gRPC's message limit. */
export function approximateSize(m: Message): number {
  let size = 64 + m.context.length;
  for (const e of m.entries) size += 24 + e.data.length;
  if (m.snapshot) size += m.snapshot.data.length + 64;
  return size;
}
