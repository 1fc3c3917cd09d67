// The LMDB mutations one storage write consists of, and their application inside a transaction.
// Writes are planned on the caller's turn (so they capture its bytes and its order) and applied later,
// batched with others, in a single transaction by the group committer.

import type { Database } from 'lmdb';
import { indexKey } from './codec.js';

export type WriteOp =
  /** Delete every log entry with index >= index. */
  | { kind: 'truncateFrom'; index: number }
  /** Delete every log entry with index <= index. */
  | { kind: 'dropThrough'; index: number }
  | { kind: 'putEntry'; key: Buffer; value: Buffer }
  | { kind: 'putState'; key: string; value: Buffer };

export interface LogDatabases {
  log: Database<Buffer, Buffer>;
  state: Database<Buffer, string>;
}

/** Must run inside a write transaction. Ranges are read from the transaction itself, so they are exact. */
export function applyWriteOps(dbs: LogDatabases, ops: readonly WriteOp[]): void {
  for (const op of ops) {
    switch (op.kind) {
      case 'truncateFrom':
        // Keys are collected first: deleting under a live cursor is not something to rely on.
        for (const key of [...dbs.log.getKeys({ start: indexKey(op.index) })]) dbs.log.removeSync(key);
        break;
      case 'dropThrough':
        for (const key of [...dbs.log.getKeys({ end: indexKey(op.index + 1) })]) dbs.log.removeSync(key);
        break;
      case 'putEntry':
        dbs.log.putSync(op.key, op.value);
        break;
      case 'putState':
        dbs.state.putSync(op.key, op.value);
        break;
    }
  }
}
