import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeartbeatTracker } from './heartbeats.js';

test('a node that stops beating expires after period x grace, once', () => {
  const hb = new HeartbeatTracker({ periodMs: 1000, graceMultiplier: 3 });
  hb.open('a', 's1', 0);
  hb.open('b', 's2', 0);
  assert.equal(hb.beat('a', 's1', 2500), true);
  assert.deepEqual(hb.takeExpired(2999), []);
  assert.deepEqual(hb.takeExpired(3000), ['b']);
  assert.deepEqual(hb.takeExpired(3000), [], 'expiry is reported once');
  assert.equal(hb.isLive('a'), true);
  assert.deepEqual(hb.takeExpired(5500), ['a']);
});

test('a superseded session cannot keep a node alive or close its successor', () => {
  const hb = new HeartbeatTracker({ periodMs: 1000, graceMultiplier: 3 });
  hb.open('a', 'old', 0);
  hb.open('a', 'new', 100);
  assert.equal(hb.beat('a', 'old', 200), false);
  hb.close('a', 'old');
  assert.equal(hb.isLive('a'), true);
  hb.close('a', 'new');
  assert.equal(hb.isLive('a'), false);
  assert.equal(hb.beat('a', 'new', 300), false, 'a closed session must re-register');
});

test('a new leader can give nodes a shorter first grace', () => {
  const hb = new HeartbeatTracker({ periodMs: 1000, graceMultiplier: 3 });
  hb.open('a', 'awaiting-session', 0, 2000);
  assert.deepEqual(hb.takeExpired(1999), []);
  assert.deepEqual(hb.takeExpired(2000), ['a']);
});
