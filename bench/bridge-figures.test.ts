import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, roundOrder, roundRatio, runsText, underlayFor } from './bridge-figures.js';

test('underlayFor: seven distinct addresses in 198.19.160-199, each link in its own prefix', () => {
  for (const seed of [0, 1, 15, 16, 639, 640, 0xffff, 0xffffffff]) {
    const u = underlayFor(seed);
    const all = Object.values(u);
    assert.equal(new Set(all).size, 7);
    for (const a of all) {
      const [o1, o2, o3, o4] = a.split('.').map(Number);
      assert.deepEqual([o1, o2], [198, 19]);
      assert.ok(o3! >= 160 && o3! <= 199, a);
      assert.ok(o4! >= 1 && o4! <= 254, a);
    }
    const last = (s: string) => Number(s.split('.')[3]);
    // The node's /29 holds the node and both host addresses, none its network or broadcast address.
    for (const v of [u.host, u.hostDirect].map(last)) assert.equal(v >> 3, last(u.node) >> 3);
    for (const v of [u.node, u.host, u.hostDirect].map(last)) assert.ok(v % 8 !== 0 && v % 8 !== 7);
    // Each other pair sits in one /30 of its own, neither its network or broadcast address.
    for (const [x, y] of [
      [u.refA, u.refB],
      [u.dockerSide, u.dockerHost],
    ]) {
      assert.equal(last(x!) >> 2, last(y!) >> 2);
      assert.notEqual(last(x!) >> 2, last(u.node) >> 2);
      for (const v of [last(x!), last(y!)]) assert.ok(v % 4 === 1 || v % 4 === 2);
    }
  }
  assert.notEqual(underlayFor(1).node, underlayFor(2).node);
  assert.equal(underlayFor(5).node, underlayFor(5 + 640).node);
});

test('roundOrder rotates so each path leads once per cycle', () => {
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 5), ['c', 'a', 'b']);
  assert.deepEqual(roundOrder([], 3), []);
});

test('median and the median of per-round ratios', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
  // Round ratios 0.5, 2, 1: their median 1, not the ratio of medians (3 / 2).
  assert.equal(roundRatio([1, 4, 3], [2, 2, 3]), 1);
  assert.ok(Number.isNaN(roundRatio([1, 2], [1])));
  assert.ok(Number.isNaN(roundRatio([], [])));
  assert.equal(runsText([1, 2.345], 1), '1.0 / 2.3');
});
