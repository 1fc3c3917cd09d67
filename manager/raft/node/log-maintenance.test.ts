import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotPhase } from './log-maintenance.js';

test('members snapshot at different indices within each interval', () => {
  const every = 10_000;
  const phases = [1, 2, 3, 4, 5].map((id) => snapshotPhase(id, every));
  for (const p of phases) assert.ok(p >= 0 && p < every, String(p));
  assert.equal(new Set(phases).size, phases.length);
  // Three consecutive ids (a new cluster's) lie at least a fifth of the interval apart.
  const sorted = phases.slice(0, 3).sort((a, b) => a - b);
  const gaps = [sorted[1]! - sorted[0]!, sorted[2]! - sorted[1]!, every - sorted[2]! + sorted[0]!];
  assert.ok(Math.min(...gaps) >= every / 5, String(gaps));
});

test('the phase is a pure function of id and interval (large ids included)', () => {
  assert.equal(snapshotPhase(7, 20), snapshotPhase(7, 20));
  const big = snapshotPhase(2 ** 52 + 12345, 10_000);
  assert.ok(Number.isInteger(big) && big >= 0 && big < 10_000);
});
