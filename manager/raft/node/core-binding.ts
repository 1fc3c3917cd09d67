// The few pieces of the pure core the node uses, in one place.
import type { ConfState, RaftId } from '../types.js';
import type { PersistBatch } from './storage.js';

export { newRawNode, encodeConfChange, decodeConfChange } from '../core/index.js';

/**
 * The first write of a new cluster's members, in the core's bootstrap format (core/bootstrap.ts): a
 * snapshot at index 1, term 1, whose ConfState lists the initial voters and whose data is the initial
 * application state, committed. Written through the node's storage interface so it is fsynced like
 * every other write.
 */
export function bootstrapBatch(voters: RaftId[], data: Uint8Array): PersistBatch {
  const confState: ConfState = { voters: [...voters].sort((a, b) => a - b), learners: [] };
  return {
    hardState: { term: 1, vote: 0, commit: 1 },
    entries: [],
    snapshot: { metadata: { index: 1, term: 1, confState }, data },
  };
}
