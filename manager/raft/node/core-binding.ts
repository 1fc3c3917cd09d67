// The few pieces of the pure core the node uses, in one place.
import { EntryType, MessageType, type ConfState, type Message, type RaftId } from '../types.js';
import { encodeSnapshotData } from './envelope.js';
import type { BootstrapMember } from './options.js';
import type { PersistBatch } from './storage.js';

export { newRawNode, encodeConfChange, decodeConfChange } from '../core/index.js';

const EMPTY = new Uint8Array(0);

/**
 * The first write of a new cluster's members, in the core's bootstrap format (core/bootstrap.ts): a
 * snapshot at index 1, term 1, whose ConfState lists the initial voters, committed. Its data holds the
 * members' addresses and the application's initial state. Written through the node's storage
 * interface so it is fsynced like every other write.
 */
export function bootstrapBatch(members: BootstrapMember[], appState: Uint8Array): PersistBatch {
  const confState: ConfState = { voters: members.map((m) => m.id).sort((a, b) => a - b), learners: [] };
  const addrs: Record<string, string> = {};
  for (const m of members) addrs[m.id] = m.addr;
  return {
    hardState: { term: 1, vote: 0, commit: 1 },
    entries: [],
    snapshot: { metadata: { index: 1, term: 1, confState }, data: encodeSnapshotData(addrs, appState) },
  };
}

/**
 * One local proposal carrying several entries: the core appends them together and sends one
 * AppendEntries per follower, where RawNodeApi.propose() would cost one of each per entry.
 */
export function proposeMessage(self: RaftId, datas: Uint8Array[]): Message {
  return {
    type: MessageType.Propose,
    from: self,
    to: self,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data })),
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY,
  };
}
