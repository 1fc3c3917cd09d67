import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLimited, shortId } from './pull.js';

test('downloads run a few at a time; after a failure nothing new starts and the failure is thrown', async () => {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const task =
    (i: number, fail = false) =>
    async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (fail) throw new Error(`task ${i} failed`);
    };
  await runLimited(
    [0, 1, 2, 3, 4, 5, 6].map((i) => task(i)),
    3,
  );
  assert.equal(peak, 3);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);

  started.length = 0;
  await assert.rejects(runLimited([task(0, true), task(1), task(2), task(3), task(4)], 2), /task 0 failed/);
  assert.deepEqual(started, [0, 1], 'the tasks after the failure were never started');
  assert.equal(running, 0, 'every started task had settled when the failure was thrown');
  await runLimited([], 3);
});

test('short IDs are the first 12 hex characters, as Docker prints layers', () => {
  assert.equal(shortId('sha256:0123456789abcdef' + '0'.repeat(48)), '0123456789ab');
});
