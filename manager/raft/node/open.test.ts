// A single-member cluster on each storage layout (LMDB, WAL): bootstrap, write, restart on the same dir,
// and find the state rebuilt (from the bootstrap snapshot plus the log, then from a real snapshot plus
// the log).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../types.js';
import { openRaftNode } from './open.js';
import type { RaftNode } from './raft-node.js';
import type { StateMachine } from './state-machine.js';

class Lines implements StateMachine {
  lines: string[] = [];
  apply(e: Entry): void {
    this.lines.push(Buffer.from(e.data).toString());
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.lines));
  }
  restore(data: Uint8Array): void {
    this.lines = data.length ? (JSON.parse(Buffer.from(data).toString()) as string[]) : [];
  }
}

async function leaderOf(node: RaftNode): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!node.isLeader) {
    if (Date.now() > deadline) throw new Error('single member did not become leader');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a member written by the old default (LMDB) restarts on the WAL with its state and goes on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'raftnode-upgrade-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const open = (sm: Lines, storage?: 'lmdb') =>
    openRaftNode({
      id: 7,
      dataDir: dir,
      stateMachine: sm,
      transport: { listen: '127.0.0.1:0' },
      bootstrap: true,
      tickMs: 10,
      snapshotEveryEntries: 20,
      snapshotKeepEntries: 5,
      ...(storage && { storage }),
    });
  const old = new Lines();
  let node = await open(old, 'lmdb');
  await leaderOf(node);
  await Promise.all(Array.from({ length: 30 }, (_, i) => node.propose(Buffer.from(`a${i}`))));
  const term = node.status().term;
  await node.stop();
  assert.ok((await readdir(dir)).includes('raft.mdb'));

  const upgraded = new Lines();
  node = await open(upgraded);
  try {
    await leaderOf(node);
    await node.readIndex();
    assert.deepEqual(upgraded.lines, old.lines, 'snapshot plus log rebuild the same state');
    assert.ok(node.status().snapshotIndex > 1, 'the snapshot taken on LMDB came along');
    assert.ok(node.status().term > term, 'the hard state came along (a new term after it)');
    await node.propose(Buffer.from('b0'));
  } finally {
    await node.stop();
  }
  assert.deepEqual((await readdir(dir)).sort(), ['snap', 'wal']);
  const restarted = new Lines();
  node = await open(restarted);
  try {
    await leaderOf(node);
    await node.readIndex();
    assert.deepEqual(restarted.lines, [...old.lines, 'b0']);
  } finally {
    await node.stop();
  }
});

for (const layout of ['lmdb', 'wal'] as const) {
  test(`bootstrap, restart and replay on disk (${layout})`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'raftnode-open-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const open = (sm: Lines, bootstrap: boolean) =>
      openRaftNode({
        id: 7,
        dataDir: dir,
        stateMachine: sm,
        transport: { listen: '127.0.0.1:0' },
        bootstrap,
        tickMs: 10,
        snapshotEveryEntries: 20,
        snapshotKeepEntries: 5,
        storage: layout,
      });

    const first = new Lines();
    let node = await open(first, true);
    await leaderOf(node);
    for (let i = 0; i < 5; i++) await node.propose(Buffer.from(`a${i}`));
    await node.stop();

    const second = new Lines();
    node = await open(second, true); // bootstrap is ignored: the storage is not empty
    await leaderOf(node);
    await node.readIndex();
    assert.deepEqual(second.lines, ['a0', 'a1', 'a2', 'a3', 'a4'], 'the log is replayed after a restart');
    await Promise.all(Array.from({ length: 30 }, (_, i) => node.propose(Buffer.from(`b${i}`))));
    await node.stop(); // waits for the snapshot taken past 20 applied entries to be written

    const third = new Lines();
    node = await open(third, false);
    try {
      await leaderOf(node);
      await node.readIndex();
      assert.deepEqual(third.lines, second.lines, 'snapshot plus log rebuild the same state');
      assert.equal(third.lines.length, 35);
      assert.ok(node.status().snapshotIndex > 1, 'the restart began from the snapshot');
    } finally {
      await node.stop();
    }
  });
}
