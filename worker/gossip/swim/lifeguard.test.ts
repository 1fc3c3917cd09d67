import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultSwimConfig } from './types.js';
import { Awareness, Suspicion, suspicionBounds, suspicionTimeout } from './lifeguard.js';

test('suspicion bounds grow with log10 n and are floored at one decade', () => {
  assert.deepEqual(suspicionBounds(3, defaultSwimConfig), { minMs: 4000, maxMs: 24000, k: 1 });
  assert.deepEqual(suspicionBounds(10, defaultSwimConfig), { minMs: 4000, maxMs: 24000, k: 2 });
  const b50 = suspicionBounds(50, defaultSwimConfig);
  assert.equal(b50.minMs, 6796);
  assert.equal(b50.maxMs, 6 * 6796);
  assert.equal(b50.k, 2);
  // Two nodes: nobody can confirm, the timeout is the minimum.
  assert.equal(suspicionBounds(2, defaultSwimConfig).k, 0);
  assert.equal(suspicionTimeout(0, suspicionBounds(2, defaultSwimConfig)), 4000);
});

test('the suspicion timeout shrinks on a log scale with independent confirmations', () => {
  const b = { minMs: 4000, maxMs: 24000, k: 3 };
  const t = [0, 1, 2, 3, 4].map((c) => suspicionTimeout(c, b));
  assert.equal(t[0], 24000);
  assert.equal(t[1], 14000); // log(2)/log(4) = 1/2 of the way
  assert.ok(t[2] < t[1] && t[2] > 4000);
  assert.equal(t[3], 4000);
  assert.equal(t[4], 4000);
});

test('a suspicion counts each confirmer once, never its origin, and at most k', () => {
  const s = new Suspicion(1000, { minMs: 4000, maxMs: 24000, k: 2 }, 'a');
  assert.equal(s.deadline(), 25000);
  assert.equal(s.confirm('a'), false);
  assert.equal(s.confirm('b'), true);
  assert.equal(s.confirm('b'), false);
  assert.equal(s.confirm('c'), true);
  assert.equal(s.confirm('d'), false);
  assert.equal(s.deadline(), 5000);
});

test('local health awareness scales timeouts and saturates', () => {
  const a = new Awareness(8);
  assert.equal(a.scale(500), 500);
  a.apply(3);
  assert.equal(a.scale(500), 2000);
  a.apply(100);
  assert.equal(a.score, 7);
  a.apply(-100);
  assert.equal(a.score, 0);
});
