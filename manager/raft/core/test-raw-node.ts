// For the core's tests: a RawNode over `storage` with the settings they share (10-tick elections,
// 1-tick heartbeats, PreVote and CheckQuorum on, deterministic election timeouts), any of which a
// test overrides.
import type { RaftConfig, RaftId } from '../types.js';
import type { MemoryStorage } from './memory-storage.js';
import { RawNode } from './rawnode.js';

export function testRawNode(id: RaftId, storage: MemoryStorage, over: Partial<RaftConfig> = {}): RawNode {
  return new RawNode({
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    storage,
    applied: storage.snapshot().metadata.index,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    preVote: true,
    checkQuorum: true,
    // Every randomized election timeout is exactly electionTicks.
    random: () => 0,
    ...over,
  });
}
