// What the node needs from durable storage, beyond the core's read-only LogStorage. WalStorage and the
// LMDB DiskStorage (manager/raft/storage) implement it; tests may wrap the core's MemoryStorage.
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from '../types.js';

export interface PersistBatch {
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

export interface NodeStorage extends LogStorage {
  /**
   * Makes the batch durable (fsync when `sync`); concurrent saves may share one fsync. Reads reflect
   * the batch as soon as save() returns (the node goes on with its Ready before the write lands);
   * saves land, and their promises resolve, in the order they were made.
   */
  save(batch: PersistBatch, sync: boolean): Promise<void>;
  /** Records a snapshot of the applied state at `index` (which must be applied and in the log). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> | Snapshot;
  /** Drops log entries below `index` (they are covered by the snapshot). */
  compact(index: number): Promise<void> | void;
  close(): Promise<void> | void;
}
