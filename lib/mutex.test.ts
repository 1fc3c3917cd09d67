import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KeyedMutex, Mutex } from './mutex.js';

/** A promise and the functions that settle it, to order work by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

it('Mutex: work runs one at a time, in call order, and a failure rejects only its caller', async () => {
  const m = new Mutex();
  const log: string[] = [];
  const first = gate();
  const a = m.run(async () => {
    log.push('a start');
    await first.opened;
    log.push('a end');
    return 'a';
  });
  const b = m.run(async () => {
    log.push('b');
    throw new Error('b failed');
  });
  const c = m.run(async () => {
    log.push('c');
    return 'c';
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['a start'], 'b waits for a');
  first.open();
  assert.equal(await a, 'a');
  await assert.rejects(b, /b failed/);
  assert.equal(await c, 'c');
  assert.deepEqual(log, ['a start', 'a end', 'b', 'c']);
});

it('Mutex: work that throws synchronously rejects its caller and does not stop the queue', async () => {
  const m = new Mutex();
  const bad = m.run(() => {
    throw new Error('sync');
  });
  await assert.rejects(bad, /sync/);
  assert.equal(await m.run(async () => 1), 1);
});

it('KeyedMutex: keys are independent, one key is serialized, and idle keys are forgotten', async () => {
  const m = new KeyedMutex();
  const log: string[] = [];
  const held = gate();
  const x1 = m.run('x', async () => {
    await held.opened;
    log.push('x1');
  });
  const x2 = m.run('x', async () => {
    log.push('x2');
  });
  const y = m.run('y', async () => {
    log.push('y');
  });
  await y;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['y'], 'y did not wait for x');
  assert.equal(m.busyKeys, 1, 'y forgotten once idle, x still busy');
  held.open();
  await Promise.all([x1, x2]);
  assert.deepEqual(log, ['y', 'x1', 'x2']);
  await new Promise((r) => setImmediate(r));
  assert.equal(m.busyKeys, 0);
});
