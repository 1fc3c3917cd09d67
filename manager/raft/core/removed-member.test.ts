// Which removed members campaign (Raft.removedWithTail): only one stranded by its removal from a pair
// of voters, holding entries past its commit index. The scenarios around it are the golden files
// remove_leader*.txt; this table pins the rule itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryType, MessageType, type RaftId } from '../types.js';
import { MemoryStorage } from './memory-storage.js';
import { testRawNode } from './test-raw-node.js';

/** Member 1 restarting with `voters` as its applied configuration and entries 2..last (commit 2). */
function restarted(voters: RaftId[], learners: RaftId[], last: number) {
  const storage = new MemoryStorage();
  storage.applySnapshot({
    metadata: { index: 1, term: 1, confState: { voters, learners } },
    data: new Uint8Array(0),
  });
  const entries = [];
  for (let i = 2; i <= last; i++)
    entries.push({ term: 2, index: i, type: EntryType.Normal, data: new Uint8Array(0) });
  storage.append(entries);
  storage.setHardState({ term: 2, vote: 1, commit: 2 });
  return testRawNode(1, storage);
}

/** Whom it asks for a pre-vote within two election timeouts. */
function campaignsAfterTimeouts(voters: RaftId[], learners: RaftId[], last: number): RaftId[] {
  const node = restarted(voters, learners, last);
  for (let i = 0; i < 20; i++) node.tick();
  if (!node.hasReady()) return [];
  const asked = node
    .ready()
    .messages.filter((m) => m.type === MessageType.PreVote)
    .map((m) => m.to);
  return [...new Set(asked)];
}

test('a removed member campaigns only when stranded by its removal from a pair, with entries past its commit index', () => {
  const cases: Array<[string, RaftId[], RaftId[], number, RaftId[]]> = [
    ['a voter campaigns', [1, 2], [], 3, [2]],
    ['removed from a pair, entries past its commit index', [2], [], 3, [2]],
    ['removed from a pair, nothing past its commit index', [2], [], 2, []],
    ['removed from three: the other two elect without it', [2, 3], [], 3, []],
    ['a learner never campaigns', [2], [1], 3, []],
    ['a member never added (no configuration) never campaigns', [], [], 3, []],
  ];
  for (const [name, voters, learners, last, expected] of cases) {
    assert.deepEqual(campaignsAfterTimeouts(voters, learners, last), expected, name);
  }
});
