import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.js';

test('Go-style durations', () => {
  const cases: [string, number | undefined][] = [
    ['500ms', 500],
    ['5s', 5_000],
    ['1h30m', 5_400_000],
    ['2160h0m0s', 2160 * 3_600_000],
    ['1.5s', 1_500],
    ['', undefined],
    ['5', undefined],
    ['5d', undefined],
    ['-5s', undefined],
    ['s5', undefined],
    ['5s junk', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});
