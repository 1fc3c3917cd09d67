// Bootstrapping a brand-new cluster. Rather than writing conf-change entries into the log, the first
// member's storage receives a snapshot at index 1, term 1, whose ConfState lists the initial voters.
// Every member then starts from storage alike (no "initial peers" special case in the core): the
// bootstrapped member campaigns after its election timeout (or campaign()), and members that join
// later start with empty storage, are added by a conf change, and catch up from the leader (usually
// by receiving a snapshot, since the bootstrap entry itself is compacted).

import { type LogStorage, type RaftId, type Snapshot } from '../types.js';

/** What bootstrapStorage needs from a writable storage (MemoryStorage and the LMDB storage). */
export interface BootstrapTarget extends LogStorage {
  applySnapshot(s: Snapshot): void;
  setHardState(hs: { term: number; vote: RaftId; commit: number }): void;
}

/**
 * Initializes empty storage as the first member(s) of a new cluster. `data` is the application's
 * initial state (an empty store). Throws if the storage already holds state.
 */
export function bootstrapStorage(storage: BootstrapTarget, voters: RaftId[], data = new Uint8Array(0)): void {
  if (voters.length === 0) throw new Error('raft: bootstrap needs at least one voter');
  const { hardState } = storage.initialState();
  if (storage.lastIndex() !== 0 || hardState.term !== 0)
    throw new Error('raft: cannot bootstrap non-empty storage');
  storage.applySnapshot({
    metadata: { index: 1, term: 1, confState: { voters: [...voters].sort((a, b) => a - b), learners: [] } },
    data,
  });
  storage.setHardState({ term: 1, vote: 0, commit: 1 });
}
