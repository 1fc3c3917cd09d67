import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextRetryMs, passDue, RETRY_MAX_MS, RETRY_MIN_MS } from './reconcile-loop.js';

const cases: {
  name: string;
  now: number;
  delayMs: number;
  pendingSince: number | undefined;
  due: number;
  since: number;
}[] = [
  {
    name: 'a first kick runs after the debounce',
    now: 1_000,
    delayMs: 20,
    pendingSince: undefined,
    due: 1_020,
    since: 1_000,
  },
  {
    name: 'a kick for now runs now',
    now: 1_000,
    delayMs: 0,
    pendingSince: undefined,
    due: 1_000,
    since: 1_000,
  },
  {
    name: 'a later kick pushes the pass back',
    now: 1_050,
    delayMs: 20,
    pendingSince: 1_000,
    due: 1_070,
    since: 1_000,
  },
  {
    name: 'but never past the longest wait',
    now: 1_190,
    delayMs: 20,
    pendingSince: 1_000,
    due: 1_200,
    since: 1_000,
  },
  {
    name: 'a wake-up far ahead is capped too',
    now: 1_000,
    delayMs: 5_000,
    pendingSince: undefined,
    due: 1_200,
    since: 1_000,
  },
];

for (const c of cases) {
  test(`reconcile loop: ${c.name}`, () => {
    assert.deepEqual(passDue(c.now, c.delayMs, c.pendingSince, 200), { due: c.due, pendingSince: c.since });
  });
}

test('reconcile loop: retries back off by doubling up to the cap', () => {
  const waits = [RETRY_MIN_MS];
  while (waits.length < 8) waits.push(nextRetryMs(waits.at(-1)!));
  assert.deepEqual(waits, [50, 100, 200, 400, 800, 1_600, RETRY_MAX_MS, RETRY_MAX_MS]);
});
