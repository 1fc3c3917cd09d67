// Production wiring: a RaftNode on durable storage in `dataDir` (the WAL, migrating a directory of the
// old LMDB layout on first start; see manager/raft/README.md), driving the core's RawNode.
import { type LogLayout, openLogStorage } from '../storage/layout.js';
import { nodeFileLayer } from '../storage/wal/files.js';
import { newRawNode } from './core-binding.js';
import { RaftNode, type RaftNodeOptions } from './raft-node.js';

export type OpenRaftNodeOptions = Omit<RaftNodeOptions, 'storage' | 'createCore'> & {
  dataDir: string;
  /** The log's layout on disk (default 'wal'; 'lmdb' only to compare, see storage/layout.ts). */
  storage?: LogLayout;
  /** WAL appends on the event loop's thread instead of the pool (see storage/wal/files.ts). */
  inlineWalAppends?: boolean;
};

export async function openRaftNode(opts: OpenRaftNodeOptions): Promise<RaftNode> {
  const { dataDir, storage: layout, inlineWalAppends, ...rest } = opts;
  const files = nodeFileLayer({ inlineAppends: inlineWalAppends ?? false });
  const { storage } = await openLogStorage(dataDir, { layout, files });
  try {
    return await RaftNode.create({ ...rest, storage, createCore: newRawNode });
  } catch (err) {
    await storage.close();
    throw err;
  }
}
