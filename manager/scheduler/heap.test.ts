import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MinHeap } from './heap.js';

test('MinHeap: pops in order, and topIncreased keeps the order after the top grows', () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 1000;
  const values = Array.from({ length: 500 }, next);
  const heap = new MinHeap(
    values.map((v) => ({ v })),
    (a, b) => a.v < b.v,
  );
  // Grow the top 300 times (as the scheduler does when a node takes a task), mirroring it in a list.
  const mirror = [...values];
  for (let i = 0; i < 300; i++) {
    const top = heap.peek()!;
    assert.equal(top.v, Math.min(...mirror));
    mirror.splice(mirror.indexOf(top.v), 1, top.v + 1 + (i % 5));
    top.v += 1 + (i % 5);
    heap.topIncreased();
  }
  const popped: number[] = [];
  while (heap.size > 0) popped.push(heap.pop()!.v);
  assert.deepEqual(
    popped,
    mirror.sort((a, b) => a - b),
  );
  assert.equal(heap.pop(), undefined);
  assert.equal(heap.peek(), undefined);
});
