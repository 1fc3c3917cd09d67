// The manager's replicated object store: import from here.
export { Store, DEFAULT_MAX_PROPOSAL_BYTES } from './store.js';
export type { Proposer, StoreLogger, StoreOptions, UpdateResult } from './store.js';
export type { ReadTx, WriteTx } from './tx.js';
export { Subscription, DEFAULT_WATCH_QUEUE_LIMIT } from './watch.js';
export type {
  StoreEvent,
  ObjectEvent,
  CommitEvent,
  RestoredEvent,
  WatchFilter,
  WatchOptions,
} from './watch.js';
export type { ApplyOutcome } from './apply.js';
export { BATCH_FORMAT_VERSION, encodeBatch, decodeBatch } from './actions.js';
export type { Action, Batch, Op } from './actions.js';
export { SNAPSHOT_FORMAT_VERSION } from './snapshot.js';
export { swarmSchema, clusterTable, nodeTable } from './indexes.js';
export type { IndexSpec, TableSpec, Schema, ObjectMap, KindOf, PrefixMatch } from './tables.js';
export { InMemoryLog } from './in-memory-log.js';
export type { DeliveryMode, Replica } from './in-memory-log.js';
export * from './errors.js';
