import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkManagerRemoval, quorumOf } from './quorum.js';

const m = (spec: string) => spec.split('').map((c, i) => ({ nodeId: `n${i + 1}`, reachable: c === 'R' }));

test('quorum sizes', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumOf), [1, 2, 2, 3, 3]);
});

test('removal verdicts', () => {
  const cases: [string, string, boolean, boolean | 'last'][] = [
    // managers (R reachable, U unreachable), target, force, expected ok
    ['R', 'n1', false, 'last'],
    ['R', 'n1', true, 'last'],
    ['RRR', 'n3', false, true], // 2 of 2 left
    ['RRU', 'n3', false, true], // removing the dead one: 2 of 2
    ['RRU', 'n2', false, false], // 1 of 2 left reachable
    ['RRU', 'n2', true, true],
    ['RRRRR', 'n1', false, true],
    ['RRRUU', 'n1', false, false], // 2 of 4 < 3
    ['RRRUU', 'n5', false, true], // 3 of 4
    ['RR', 'n1', false, true], // 1 of 1
    ['RU', 'n1', false, false],
    ['RRR', 'nX', false, true], // not a manager
  ];
  for (const [spec, target, force, expected] of cases) {
    const v = checkManagerRemoval(m(spec), target, force);
    const label = `${spec} -${target}${force ? ' --force' : ''}`;
    if (expected === 'last') {
      assert.equal(v.ok, false, label);
      assert.equal(!v.ok && v.forceable, false, label);
      assert.match(!v.ok ? v.reason : '', /last manager/);
    } else {
      assert.equal(v.ok, expected, label);
      if (!v.ok) assert.match(v.reason, /--force/);
    }
  }
});
