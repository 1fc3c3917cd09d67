// Production wiring: a RaftNode on the LMDB DiskStorage in `dataDir`, driving the core's RawNode.
import { DiskStorage } from '../storage/disk-storage.js';
import { newRawNode } from './core-binding.js';
import { RaftNode, type RaftNodeOptions } from './raft-node.js';

export type OpenRaftNodeOptions = Omit<RaftNodeOptions, 'storage' | 'createCore'> & { dataDir: string };

export async function openRaftNode(opts: OpenRaftNodeOptions): Promise<RaftNode> {
  const { dataDir, ...rest } = opts;
  const storage = await DiskStorage.open(dataDir);
  try {
    return await RaftNode.create({ ...rest, storage, createCore: newRawNode });
  } catch (err) {
    await storage.close();
    throw err;
  }
}
