import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyRotationStep,
  initialOverlayKeys,
  keysPrimaryFirst,
  nextRotationStep,
  OVERLAY_KEY_BYTES,
  overlayRotationFromEnv,
  DEFAULT_OVERLAY_ROTATION_MS,
  type OverlayRotationStep,
} from './overlay-keys.js';
import type { OverlayKeySet } from '../api/objects/index.js';

const bytes = (n: number) => Buffer.alloc(OVERLAY_KEY_BYTES, n);
const set = (ids: number[], primary: number): OverlayKeySet => ({
  keys: ids.map((id) => ({ id, key: bytes(id).toString('base64') })),
  primary,
});

test('the rotation steps, each from the set it applies to', () => {
  const cases: [string, OverlayKeySet, OverlayRotationStep, OverlayKeySet][] = [
    ['a settled set starts a rotation', set([1], 1), 'add', set([1, 2], 1)],
    ['a new key waiting is switched to', set([1, 2], 1), 'switch', set([1, 2], 2)],
    ['the old key is retired once nobody sends with it', set([1, 2], 2), 'retire', set([2], 2)],
    [
      'after a gap in ids (a retired key) the next is one past the newest',
      set([7], 7),
      'add',
      set([7, 8], 7),
    ],
    ['several old keys (a leader change between rotations) all go', set([3, 4, 5], 5), 'retire', set([5], 5)],
  ];
  for (const [name, before, step, after] of cases) {
    assert.equal(nextRotationStep(before), step, name);
    assert.deepEqual(applyRotationStep(before, step, bytes(after.keys.at(-1)!.id)), after, name);
  }
});

test('three steps make one rotation, and the primary is always a key every node was told to accept', () => {
  let s = initialOverlayKeys(bytes(1));
  const accepted = new Set([1]);
  for (let i = 0; i < 9; i++) {
    const step = nextRotationStep(s);
    assert.equal(step, (['add', 'switch', 'retire'] as const)[i % 3]);
    const before = s;
    s = applyRotationStep(s, step, bytes(Math.max(...s.keys.map((k) => k.id)) + 1));
    assert.ok(accepted.has(s.primary) || step === 'add', 'a switch goes to a key added a step earlier');
    if (step === 'switch') assert.ok(before.keys.some((k) => k.id === s.primary));
    for (const k of s.keys) accepted.add(k.id);
    assert.ok(
      s.keys.some((k) => k.id === s.primary),
      'the primary stays in the set',
    );
  }
  assert.deepEqual(s, set([4], 4));
});

test('keys go to nodes primary first, then newest', () => {
  assert.deepEqual(
    keysPrimaryFirst(set([1, 2], 1)).map((k) => k.id),
    [1, 2],
  );
  assert.deepEqual(
    keysPrimaryFirst(set([1, 2, 3], 2)).map((k) => k.id),
    [2, 3, 1],
  );
});

test('the schedule from the environment: default, a lab value, bad values refused', () => {
  assert.equal(overlayRotationFromEnv(undefined).periodMs, DEFAULT_OVERLAY_ROTATION_MS);
  assert.deepEqual(overlayRotationFromEnv('60000'), { periodMs: 60_000, overlapMs: 6_000 });
  assert.deepEqual(overlayRotationFromEnv('5000'), { periodMs: 5_000, overlapMs: 1_000 });
  for (const bad of ['1000', '12h', '-5', '1e5', ' 6000'])
    assert.throws(() => overlayRotationFromEnv(bad), /SWARMLITE_OVERLAY_KEY_ROTATION_MS must be/);
});
