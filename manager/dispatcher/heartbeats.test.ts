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

test("a late check is this manager's stall: beats it could not read meanwhile are not counted as missed", () => {
  const hb = new HeartbeatTracker({ periodMs: 1000, graceMultiplier: 3 });
  hb.open('a', 's1', 0);
  hb.open('b', 's2', 0);
  const every = 250;
  for (let t = 0; t <= 1000; t += every) assert.deepEqual(hb.takeExpired(t, every), []);
  // The manager's loop stalls 10 s (its next check comes at 11 000 instead of 1 250): nobody is down.
  assert.deepEqual(hb.takeExpired(11_000, every), []);
  // a's beat, queued during the stall, is read now; b stays silent.
  assert.ok(hb.beat('a', 's1', 11_010));
  let t = 11_000;
  const down: string[] = [];
  while (down.length === 0 && t < 20_000) down.push(...hb.takeExpired((t += every), every));
  // b is down at its 3 000 ms deadline stretched by the stall (11 000 - 1 000 - 250 = 9 750 ms).
  assert.deepEqual(down, ['b']);
  assert.equal(t, 12_750);
  // Without the check interval (callers that do not say) nothing is stretched: as before.
  const plain = new HeartbeatTracker({ periodMs: 1000, graceMultiplier: 3 });
  plain.open('c', 's3', 0);
  assert.deepEqual(plain.takeExpired(0), []);
  assert.deepEqual(plain.takeExpired(11_000), ['c']);
});
