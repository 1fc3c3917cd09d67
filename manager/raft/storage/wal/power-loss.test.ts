// Power loss under the WAL: writers append synced entries concurrently (group-committed), the log is
// compacted now and then, and the machine loses power at a random moment, with unsynced writes
// partly written back, left as holes, or torn. After every reboot: every acknowledged entry is there
// with its exact bytes, the hard state covers every acknowledged commit, and nothing that was not
// written whole is in the log. SIGKILL alone would leave the page cache and prove nothing; this layer
// drops exactly what an fdatasync did not cover.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../../../lib/prng.js';
import { entry, payload } from '../testing/fixtures.js';
import { PowerLossFiles } from '../testing/power-loss-files.js';
import { lastIndex, termAt } from './log-view.js';
import { Wal } from './wal.js';

const DIR = '/power-loss/wal';
const SEEDS = Number(process.env.SWARMLITE_POWER_LOSS_SEEDS ?? 150);

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** One machine's life: several boots, each ended by a power loss. Returns what it exercised. */
async function runSeed(seed: number): Promise<{ acked: number; truncations: number }> {
  const rng = new Prng(seed);
  const files = new PowerLossFiles(rng.fork());
  const acked = new Map<number, number>(); // index -> term, acknowledged as durable
  let ackedCommit = 0;
  let truncations = 0;
  for (let boot = 1; boot <= 5; boot++) {
    const wal = await Wal.open(DIR, { files, preallocBytes: 4096 });
    if (wal.recovery.truncated) truncations++;
    const v = wal.view;
    const where = `seed ${seed} boot ${boot}`;
    for (const [index, term] of acked) {
      if (index <= v.offset.index) continue; // compacted: covered by the snapshot
      assert.equal(termAt(v, index), term, `${where}: acknowledged entry ${index} lost`);
    }
    for (const e of v.entries) {
      assert.deepEqual(
        e.data,
        payload(e.index, e.term, e.data.byteLength),
        `${where}: entry ${e.index} damaged`,
      );
    }
    assert.ok(
      v.hardState.commit >= ackedCommit,
      `${where}: commit ${v.hardState.commit} < acked ${ackedCommit}`,
    );
    assert.ok(v.hardState.commit <= lastIndex(v), `${where}: commit past the log`);

    // A new term per boot keeps terms rising; appends go after the recovered log.
    const term = v.hardState.term + 1;
    let next = lastIndex(v) + 1;
    let running = true;
    const writer = async (): Promise<void> => {
      while (running) {
        const index = next++;
        const size = rng.pick([40, 300, 2000]);
        const commit = index;
        try {
          await wal.save({ entries: [entry(index, term, size)], hardState: { term, vote: 1, commit } }, true);
        } catch {
          return; // refused (e.g. the log moved under a compaction): this writer stops
        }
        if (!running) return;
        acked.set(index, term);
        ackedCommit = Math.max(ackedCommit, commit);
      }
    };
    const writers = rng.int(1, 6);
    for (let w = 0; w < writers; w++) void writer();
    const life = rng.int(5, 120);
    for (let t = 0; t < life; t += 5) {
      await turns(5);
      const view = wal.view;
      if (rng.chance(0.15) && view.hardState.commit > view.offset.index + 2) {
        const snapAt = view.hardState.commit - 1;
        const snapshot = {
          index: snapAt,
          term: termAt(view, snapAt)!,
          confState: { voters: [1], learners: [] },
        };
        void wal.compact(snapshot, snapAt - rng.int(0, 2)).catch(() => {});
      }
    }
    running = false;
    files.crash(rng.chance(0.5));
  }
  return { acked: acked.size, truncations };
}

test(`wal power loss: ${SEEDS} machines, 5 boots each, no acknowledged write lost, no torn record applied`, async () => {
  let acked = 0;
  let truncations = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runSeed(seed);
    acked += r.acked;
    truncations += r.truncations;
  }
  console.log(`wal power loss: ${SEEDS} seeds, ${acked} acknowledged entries, ${truncations} torn tails cut`);
  // The runs must exercise what they claim: acknowledged writes, and recoveries that cut a bad tail.
  assert.ok(acked > SEEDS * 10, `only ${acked} acknowledged entries`);
  assert.ok(truncations > SEEDS / 4, `only ${truncations} torn tails`);
});

test('wal power loss: an unsynced torn tail is cut on open and appends continue after it', async () => {
  const rng = new Prng(7);
  const files = new PowerLossFiles(rng);
  const wal = await Wal.open(DIR, { files, preallocBytes: 4096 });
  await wal.save(
    { entries: [entry(1, 1, 100), entry(2, 1, 100)], hardState: { term: 1, vote: 1, commit: 2 } },
    true,
  );
  // Unsynced: written, never fdatasync'd. Repeat crashes until one leaves part of it behind.
  void wal.save({ entries: [entry(3, 1, 5000)] }, false);
  await turns(3);
  files.crash(true);
  const again = await Wal.open(DIR, { files, preallocBytes: 4096 });
  assert.equal(lastIndex(again.view), 2, 'a partly written entry is never part of the log');
  assert.deepEqual(again.view.hardState, { term: 1, vote: 1, commit: 2 });
  if (files.crashes.sectorsLanded + files.crashes.sectorsTorn > 0) assert.ok(again.recovery.truncated);
  await again.save({ entries: [entry(3, 2, 10)], hardState: { term: 2, vote: 1, commit: 3 } }, true);
  await again.close();
  const third = await Wal.open(DIR, { files, preallocBytes: 4096 });
  assert.equal(termAt(third.view, 3), 2);
  assert.equal(third.recovery.truncated, undefined);
  await third.close();
});
