// Public surface of the pure Raft core.

export { RawNode, newRawNode } from './rawnode.js';
export { MemoryStorage, SnapshotOutOfDateError } from './memory-storage.js';
export { encodeConfChange, decodeConfChange } from './confchange.js';
export { bootstrapStorage, type BootstrapTarget } from './bootstrap.js';
export { majorityCommitIndex, quorumSize } from './quorum.js';
