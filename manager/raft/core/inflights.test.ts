import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Inflights } from './inflights.js';

test('inflights: fills to capacity, frees by acknowledged index, wraps around', () => {
  const inf = new Inflights(3);
  inf.add(5);
  inf.add(7);
  inf.add(9);
  assert.equal(inf.full(), true);
  assert.throws(() => inf.add(10), /full/);
  inf.freeLE(6); // acknowledges the message ending at 5 only
  assert.equal(inf.count, 2);
  inf.add(11); // wraps in the ring
  inf.freeLE(4); // stale ack: nothing freed
  assert.equal(inf.count, 3);
  inf.freeLE(10);
  assert.equal(inf.count, 1);
  inf.freeLE(11);
  assert.equal(inf.count, 0);
});

test('inflights: indices must grow; freeFirst and reset', () => {
  const inf = new Inflights(2);
  inf.add(3);
  assert.throws(() => inf.add(3), /does not follow/);
  inf.add(4);
  inf.freeFirst();
  assert.equal(inf.count, 1);
  inf.freeLE(3); // already freed: no effect on the remaining 4
  assert.equal(inf.count, 1);
  inf.reset();
  assert.equal(inf.count, 0);
  assert.throws(() => new Inflights(0));
});
