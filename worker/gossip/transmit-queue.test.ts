import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retransmitLimit, TransmitQueue } from './transmit-queue.js';

test('retransmit limit is mult * ceil(log10(n + 1))', () => {
  assert.equal(retransmitLimit(4, 1), 4);
  assert.equal(retransmitLimit(4, 9), 4);
  assert.equal(retransmitLimit(4, 10), 8);
  assert.equal(retransmitLimit(4, 50), 8);
  assert.equal(retransmitLimit(4, 100), 12);
});

test('items go out least-transmitted first, within the budget, until the limit', () => {
  const q = new TransmitQueue<string>();
  q.enqueue('a', 'A', 10);
  q.enqueue('b', 'B', 10);
  assert.deepEqual(q.take(100, 2), ['B', 'A']); // newest first among equals
  q.enqueue('c', 'C', 10);
  assert.deepEqual(q.take(11, 2), ['C']); // budget: one item of 10 + 1 framing
  assert.deepEqual(q.take(100, 2), ['C', 'B', 'A']);
  assert.equal(q.length, 0);
});

test('an item with the same key replaces the older one and starts afresh', () => {
  const q = new TransmitQueue<string>();
  q.enqueue('node1', 'suspect', 5);
  q.take(100, 3);
  q.enqueue('node1', 'alive', 5);
  assert.equal(q.length, 1);
  assert.deepEqual(q.take(100, 1), ['alive']);
  assert.equal(q.length, 0);
});

test('an oversized item is skipped by piggybacking but may go alone in a dedicated packet', () => {
  const q = new TransmitQueue<string>();
  q.enqueue('big', 'BIG', 5000);
  q.enqueue('small', 'small', 10);
  assert.deepEqual(q.take(100, 1), ['small']);
  assert.deepEqual(q.take(100, 1), []);
  assert.deepEqual(q.take(100, 1, 1, true), ['BIG']);
  assert.equal(q.length, 0);
});
