// Raft's safety properties (Figure 3 of the paper), one test each. Each combines a targeted scenario
// for the situation the property is about with an exploration of random schedules (random ticks,
// deliveries, losses, isolations, restarts that lose unpersisted state, compactions, proposals) on
// which the property is checked after every step.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../../lib/prng.js';
import { type Entry, Role } from '../types.js';
import { InteractionEnv } from './interaction-env.js';

function sh(env: InteractionEnv, ...lines: string[]): void {
  for (const l of lines) env.runLine(l);
}

function logOf(env: InteractionEnv, id: number): Map<number, Entry> {
  const log = env.rawNode(id).raft.log;
  const out = new Map<number, Entry>();
  for (const e of log.slice(log.firstIndex(), log.lastIndex() + 1, Infinity)) out.set(e.index, e);
  return out;
}

const sameEntry = (a: Entry, b: Entry) =>
  a.term === b.term && a.type === b.type && Buffer.from(a.data).equals(Buffer.from(b.data));

/** Runs random schedules on 3- and 5-member clusters, calling `check` after every step. */
function explore(seeds: number, check: (env: InteractionEnv, step: string) => void): void {
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = new Prng(seed);
    const env = new InteractionEnv();
    const size = rng.pick([3, 5]);
    const ids = Array.from({ length: size }, (_, i) => i + 1);
    const opts = `prevote=${rng.chance(0.5)} checkquorum=${rng.chance(0.5)} max-size=${rng.pick([1, 1000])} inflight=${rng.pick([1, 3, 256])}`;
    env.runLine(`add-nodes ${size} voters=${ids.join(',')} ${opts}`);
    let proposals = 0;
    for (let step = 0; step < 250; step++) {
      const id = rng.pick(ids);
      const roll = rng.next();
      let line: string;
      if (roll < 0.3) line = `tick ${id} ${rng.int(1, 4)}`;
      else if (roll < 0.55) line = `deliver-msgs ${id}${rng.chance(0.1) ? ' drop=true' : ''}`;
      else if (roll < 0.8) line = `process-ready ${id}`;
      else if (roll < 0.88) line = `propose ${id} p${++proposals}`;
      else if (roll < 0.91) line = `isolate ${id}`;
      else if (roll < 0.95) line = 'heal';
      else if (roll < 0.98) line = `restart ${id}`;
      else {
        const n = env.rawNode(id);
        const applied = n.raft.log.applied;
        const snap = n.raft.log.storage.snapshot().metadata.index;
        line = applied > snap ? `compact ${id} ${applied}` : `tick ${id}`;
      }
      env.runLine(line);
      check(env, `seed ${seed} step ${step} (${line})`);
    }
  }
}

test('election safety: at most one leader per term', () => {
  // Split vote: two candidates in the same term; a voter that restarts must remember its vote.
  const env = new InteractionEnv();
  sh(env, 'add-nodes 3 voters=1,2,3 prevote=false checkquorum=false', 'campaign 1', 'campaign 2');
  sh(env, 'process-ready 1 2', 'deliver-msgs 3', 'process-ready 3', 'restart 3');
  // 3 voted for 1 (delivered first) and persisted it; the restarted 3 receives 2's request again.
  sh(env, 'campaign 2', 'process-ready 2');
  sh(env, 'deliver-msgs 3', 'process-ready 3', 'deliver-msgs 1 2', 'process-ready 1 2', 'stabilize');
  const leaders = [1, 2, 3].filter((id) => env.rawNode(id).raft.role === Role.Leader);
  assert.equal(leaders.length, 1);

  const leaderOfTerm = new Map<string, number>();
  explore(60, (e, where) => {
    for (const id of e.nodeIds()) {
      const r = e.rawNode(id).raft;
      if (r.role !== Role.Leader) continue;
      const key = `${where.split(' step')[0]}/${r.term}`;
      const known = leaderOfTerm.get(key);
      assert.ok(known === undefined || known === id, `${where}: ${known} and ${id} both lead term ${r.term}`);
      leaderOfTerm.set(key, id);
    }
  });
});

test('leader append-only: a leader never overwrites or deletes its entries', () => {
  // A deposed leader's stale AppendEntries (lower term, conflicting entries) must not touch the leader.
  const env = new InteractionEnv();
  sh(env, 'add-nodes 3 voters=1,2,3 prevote=false checkquorum=false', 'campaign 1', 'stabilize');
  sh(env, 'isolate 2 3', 'propose 1 stale', 'process-ready 1', 'heal');
  sh(env, 'isolate 1', 'campaign 2', 'stabilize 2 3', 'propose 2 fresh', 'stabilize 2 3', 'heal');
  const before = logOf(env, 2);
  sh(env, 'tick-heartbeat 1', 'process-ready 1', 'deliver-msgs 2', 'process-ready 2');
  const after = logOf(env, 2);
  for (const [i, e] of before) assert.ok(sameEntry(e, after.get(i)!), `leader 2 changed entry ${i}`);

  const seen = new Map<string, Map<number, Entry>>();
  explore(60, (e, where) => {
    for (const id of e.nodeIds()) {
      const r = e.rawNode(id).raft;
      if (r.role !== Role.Leader) continue;
      const key = `${where.split(' step')[0]}/${id}/${r.term}`;
      const now = logOf(e, id);
      const prev = seen.get(key);
      if (prev) {
        for (const [i, entry] of prev) {
          if (i < r.log.firstIndex()) continue; // compacted, not deleted
          assert.ok(now.has(i) && sameEntry(entry, now.get(i)!), `${where}: leader ${id} lost entry ${i}`);
        }
      }
      seen.set(key, now);
    }
  });
});

function assertLogsMatch(env: InteractionEnv, where: string): void {
  const ids = env.nodeIds();
  const logs = ids.map((id) => logOf(env, id));
  for (let a = 0; a < ids.length; a++) {
    for (let b = a + 1; b < ids.length; b++) {
      // Find the highest index where both hold an entry of the same term; all before must be equal.
      let top = 0;
      for (const [i, e] of logs[a]) if (logs[b].get(i)?.term === e.term && i > top) top = i;
      for (let i = 1; i <= top; i++) {
        const x = logs[a].get(i);
        const y = logs[b].get(i);
        if (x && y)
          assert.ok(
            sameEntry(x, y),
            `${where}: ${ids[a]} and ${ids[b]} differ at ${i} below matching ${top}`,
          );
      }
    }
  }
}

test('log matching: same index and term means identical logs up to there', () => {
  // A follower with a suffix from a dead term gets it replaced by the leader's.
  const env = new InteractionEnv();
  sh(env, 'add-nodes 3 voters=1,2,3 prevote=false checkquorum=false', 'campaign 3', 'stabilize');
  sh(env, 'isolate 1 2', 'propose 3 dead1', 'propose 3 dead2', 'process-ready 3', 'heal');
  sh(env, 'isolate 3', 'campaign 1', 'stabilize 1 2', 'propose 1 live', 'stabilize 1 2', 'heal');
  sh(env, 'tick-heartbeat 1', 'stabilize');
  assert.deepEqual([...logOf(env, 3).values()], [...logOf(env, 1).values()]);
  assertLogsMatch(env, 'scenario');

  explore(60, (e, where) => assertLogsMatch(e, where));
});

test('leader completeness: a leader holds every committed entry (Figure 8)', () => {
  // Figure 8: an entry of an old term stored on a majority is not committed by counting replicas;
  // otherwise a later leader could overwrite it. max-size=1 sends one entry per message.
  const env = new InteractionEnv();
  sh(
    env,
    'add-nodes 5 voters=1,2,3,4,5 max-size=1 prevote=false checkquorum=false',
    'campaign 1',
    'stabilize',
  );
  // Term 2: leader 1 replicates x (index 3) to 2 only.
  sh(env, 'isolate 3 4 5', 'propose 1 x', 'stabilize 1 2', 'heal');
  // Term 3: 5 wins with 3 and 4; its no-op at index 3 reaches nobody.
  sh(env, 'isolate 1 2', 'campaign 5', 'process-ready 5', 'deliver-msgs 3 4', 'process-ready 3 4');
  sh(env, 'deliver-msgs 5', 'isolate 5', 'process-ready 5', 'heal');
  // Term 4: 1 restarts, wins with 2 and 3, and copies x to 3: a majority (1, 2, 3) now stores x.
  sh(env, 'isolate 5', 'restart 1', 'campaign 1', 'stabilize 1 2 3 4', 'campaign 1', 'process-ready 1');
  sh(env, 'deliver-msgs 2 3', 'process-ready 2 3', 'deliver-msgs 1', 'process-ready 1', 'isolate 4');
  for (let i = 0; i < 2; i++)
    sh(env, 'deliver-msgs 2 3', 'process-ready 2 3', 'deliver-msgs 1', 'process-ready 1');
  assert.equal(logOf(env, 3).get(3)?.term, 2, 'x reached member 3');
  assert.equal(env.rawNode(1).raft.log.committed, 2, 'x must not commit by counting replicas');
  // 1 fails before its own term-4 entry spreads; 5 (last term 3) wins with 3 and 4 and overwrites x.
  sh(env, 'isolate 1', 'heal', 'isolate 1', 'restart 5', 'campaign 5', 'stabilize 2 3 4 5');
  sh(env, 'campaign 5', 'stabilize 2 3 4 5', 'heal', 'tick-heartbeat 5', 'stabilize');
  assert.equal(env.rawNode(5).raft.role, Role.Leader);
  for (const id of env.nodeIds()) {
    assert.ok(!env.appliedData(id).includes('x'), `member ${id} applied the overwritten x`);
  }

  explore(60, (e, where) => {
    for (const id of e.nodeIds()) {
      const r = e.rawNode(id).raft;
      if (r.role !== Role.Leader) continue;
      for (const other of e.nodeIds()) {
        for (const applied of e.appliedEntries(other)) {
          if (applied.index < r.log.firstIndex()) continue;
          assert.equal(
            r.log.termOrZero(applied.index),
            applied.term,
            `${where}: leader ${id} lacks committed ${applied.index}`,
          );
        }
      }
    }
  });
});

test('state machine safety: every member applies the same entry at each index', () => {
  const check = (e: InteractionEnv, where: string) => {
    const byIndex = new Map<number, Entry>();
    for (const id of e.nodeIds()) {
      for (const entry of e.appliedEntries(id)) {
        const seen = byIndex.get(entry.index);
        if (seen) assert.ok(sameEntry(seen, entry), `${where}: members disagree at ${entry.index}`);
        else byIndex.set(entry.index, entry);
      }
    }
  };
  explore(80, check);
});
