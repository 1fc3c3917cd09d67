import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DiskStorage } from './disk-storage.js';
import { entries, entry, payload, tempDir } from './testing/fixtures.js';

const CRASH_WRITER = fileURLToPath(new URL('./testing/crash-writer.js', import.meta.url));

describe('DiskStorage durability', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('dur'));
  });
  afterEach(() => cleanup());

  it('group-commits 100 concurrent saves into far fewer fsyncs, all durable', async () => {
    const s = await DiskStorage.open(dir);
    const resolved: number[] = [];
    const saves: Promise<void>[] = [];
    // Saves trickle in across event-loop turns, so most arrive while a commit is in flight.
    for (let i = 1; i <= 100; i++) {
      saves.push(
        s.save({ entries: [entry(i, 1, 256)], hardState: { term: 1, vote: 1, commit: i } }, true).then(() => {
          resolved.push(i);
        }),
      );
      if (i % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(saves);
    const st = s.stats();
    assert.equal(st.saves, 100);
    assert.ok(st.fsyncs <= 34, `${st.fsyncs} fsyncs for 100 saves`);
    assert.equal(st.fsyncs, st.batches);
    assert.ok(st.largestBatch > 1);
    assert.deepEqual(
      resolved,
      Array.from({ length: 100 }, (_, k) => k + 1),
      'resolved in order',
    );
    await s.close();

    const again = await DiskStorage.open(dir);
    assert.equal(again.lastIndex(), 100);
    const got = again.entries(1, 101, Infinity);
    for (const e of got) assert.deepEqual(e.data, payload(e.index, 1, 256));
    assert.deepEqual(again.initialState().hardState, { term: 1, vote: 1, commit: 100 });
    await again.close();
  });

  it('fires 100 saves at once: one transaction, one fsync', async () => {
    const s = await DiskStorage.open(dir);
    await Promise.all(entries(1, 100, 1).map((e) => s.save({ entries: [e] }, true)));
    assert.deepEqual([s.stats().batches, s.stats().fsyncs, s.stats().largestBatch], [1, 1, 100]);
    await s.close();
    const again = await DiskStorage.open(dir);
    assert.equal(again.entries(1, 101, Infinity).length, 100);
    await again.close();
  });

  it('keeps every acknowledged entry when the writer is SIGKILLed mid-stream', async () => {
    const acked = new Map<number, number>(); // index -> term
    for (const killAfter of [20, 150, 400]) {
      const child = spawn(process.execPath, [CRASH_WRITER, dir, '16'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_c, sig) => resolve(sig)),
      );
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000); // a hung child must not hang the suite
      let term = 0;
      let acksThisRun = 0;
      for await (const line of createInterface({ input: child.stdout })) {
        const [what, a, b] = line.split(' ');
        if (what === 'ready') term = Number(b);
        if (what !== 'ack') continue;
        acked.set(Number(a), term);
        if (++acksThisRun === killAfter) child.kill('SIGKILL'); // lines already in the pipe still count
      }
      clearTimeout(timer);
      assert.equal(await exited, 'SIGKILL');
      assert.ok(acksThisRun >= killAfter);

      const s = await DiskStorage.open(dir); // verifies every checksum and the log's shape
      const maxAcked = Math.max(...acked.keys());
      assert.ok(s.lastIndex() >= maxAcked, `last ${s.lastIndex()} < acked ${maxAcked}`);
      assert.ok(s.initialState().hardState.commit >= maxAcked);
      const stored = s.entries(1, s.lastIndex() + 1, Infinity);
      for (const [index, t] of acked) {
        const e = stored[index - 1];
        assert.equal(e.term, t, `entry ${index} term`);
        assert.deepEqual(e.data, payload(index, t, 256), `entry ${index} data`);
      }
      await s.close();
    }
  });
});
