import assert from 'node:assert/strict';
import { test } from 'node:test';
import { majorityCommitIndex, quorumSize, voteResult, VoteResult } from './quorum.js';
import { ProgressTracker } from './tracker.js';

test('quorum: majority commit index is the highest index a majority stores', () => {
  assert.equal(majorityCommitIndex([]), 0);
  assert.equal(majorityCommitIndex([7]), 7);
  assert.equal(majorityCommitIndex([7, 3]), 3);
  assert.equal(majorityCommitIndex([9, 2, 5]), 5);
  assert.equal(majorityCommitIndex([1, 9, 9, 2]), 2);
  assert.equal(majorityCommitIndex([5, 4, 3, 2, 1]), 3);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(quorumSize), [1, 2, 2, 3, 3, 4]);
});

test('quorum: vote results', () => {
  const votes = new Map<number, boolean>([[1, true]]);
  assert.equal(voteResult([1, 2, 3], votes), VoteResult.Pending);
  votes.set(2, false);
  assert.equal(voteResult([1, 2, 3], votes), VoteResult.Pending);
  votes.set(3, true);
  assert.equal(voteResult([1, 2, 3], votes), VoteResult.Won);
  assert.equal(
    voteResult(
      [1, 2, 3, 4],
      new Map([
        [2, false],
        [3, false],
      ]),
    ),
    VoteResult.Lost,
  );
  // Votes from non-voters (a learner, a removed member) do not count.
  assert.equal(
    voteResult(
      [1, 2, 3],
      new Map([
        [1, true],
        [9, true],
      ]),
    ),
    VoteResult.Pending,
  );
});

test('tracker: learners do not count for commit or quorum activity', () => {
  const t = new ProgressTracker(8);
  t.reset({ voters: [1, 2, 3], learners: [4] }, 10);
  for (const [id, m] of [
    [1, 9],
    [2, 3],
    [3, 2],
    [4, 9],
  ] as const)
    t.progress.get(id)!.match = m;
  assert.equal(t.committed(), 3);
  for (const pr of t.progress.values()) pr.recentActive = false;
  t.progress.get(4)!.recentActive = true;
  assert.equal(t.quorumActive(1), false, 'self and a learner are not a majority');
  t.progress.get(2)!.recentActive = true;
  assert.equal(t.quorumActive(1), true);
  t.addVoter(4, 10); // promotion keeps the progress
  assert.equal(t.progress.get(4)!.match, 9);
  assert.deepEqual(t.confState(), { voters: [1, 2, 3, 4], learners: [] });
  assert.throws(() => t.addLearner(4, 10), /demotion/);
});
