import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageFailedError } from './errors.js';
import { GroupCommitter } from './group-commit.js';

/** A committer whose commits finish only when the test says so. */
function manual() {
  const batches: number[][] = [];
  const finish: ((err?: Error) => void)[] = [];
  const gc = new GroupCommitter<number>(
    (jobs) =>
      new Promise<void>((resolve, reject) => {
        batches.push([...jobs]);
        finish.push((err) => (err ? reject(err) : resolve()));
      }),
  );
  return { gc, batches, finish };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommitter', () => {
  it('commits what arrives during a commit as the next single batch, in order', async () => {
    const { gc, batches, finish } = manual();
    const done: number[] = [];
    const submit = (n: number) => gc.submit(n).then(() => done.push(n));
    const all = [submit(1), submit(2)];
    await tick();
    assert.deepEqual(batches, [[1, 2]], 'same-turn jobs share the first batch');
    all.push(submit(3), submit(4));
    await tick();
    all.push(submit(5));
    assert.deepEqual(gc.pendingJobs(), [1, 2, 3, 4, 5]);
    assert.deepEqual(gc.queuedJobs(), [3, 4, 5]);
    assert.equal(batches.length, 1, 'nothing starts while a commit is in flight');
    assert.deepEqual(done, []);
    finish[0]();
    await tick();
    assert.deepEqual(done, [1, 2], 'a batch settles only when its own commit does');
    assert.deepEqual(batches[1], [3, 4, 5]);
    finish[1]();
    await Promise.all(all);
    assert.deepEqual(done, [1, 2, 3, 4, 5]);
    await gc.idle();
  });

  it('fails stop: the failing batch, those queued behind it and later jobs are refused', async () => {
    const { gc, finish } = manual();
    const first = gc.submit(1);
    await tick();
    const queued = gc.submit(2);
    finish[0](new Error('disk full'));
    await assert.rejects(first, (e) => e instanceof StorageFailedError && /disk full/.test(e.message));
    await assert.rejects(queued, StorageFailedError);
    await assert.rejects(gc.submit(3), StorageFailedError);
    assert.ok(gc.failed);
    await gc.idle();
  });
});
