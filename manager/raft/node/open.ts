// Production wiring: a RaftNode on durable storage in `dataDir` (LMDB DiskStorage, or the WAL with
// `storage: 'wal'`, see manager/raft/README.md), driving the core's RawNode.
import { DiskStorage } from '../storage/disk-storage.js';
import { WalStorage } from '../storage/wal-storage.js';
import { newRawNode } from './core-binding.js';
import { RaftNode, type RaftNodeOptions } from './raft-node.js';

export type OpenRaftNodeOptions = Omit<RaftNodeOptions, 'storage' | 'createCore'> & {
  dataDir: string;
  /** The log's layout on disk (default 'lmdb'). */
  storage?: 'lmdb' | 'wal';
};

export async function openRaftNode(opts: OpenRaftNodeOptions): Promise<RaftNode> {
  const { dataDir, storage: layout, ...rest } = opts;
  const storage = layout === 'wal' ? await WalStorage.open(dataDir) : await DiskStorage.open(dataDir);
  try {
    return await RaftNode.create({ ...rest, storage, createCore: newRawNode });
  } catch (err) {
    await storage.close();
    throw err;
  }
}
