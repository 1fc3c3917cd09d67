import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressState } from '../types.js';
import { Progress } from './progress.js';

test('progress: probe sends one message at a time, replicate pipelines within the window', () => {
  const pr = new Progress(6, 2, false);
  assert.equal(pr.isPaused(), false);
  pr.sentEntries(3, 8);
  assert.equal(pr.isPaused(), true, 'a probe is outstanding');
  assert.equal(pr.next, 6, 'probing does not move next optimistically');
  assert.equal(pr.maybeUpdate(8), true);
  pr.becomeReplicate();
  assert.deepEqual([pr.state, pr.match, pr.next], [ProgressState.Replicate, 8, 9]);
  pr.sentEntries(2, 10);
  pr.sentEntries(1, 11);
  assert.equal(pr.next, 12);
  assert.equal(pr.isPaused(), true, 'window of 2 is full');
  assert.equal(pr.maybeUpdate(10), true);
  pr.inflights.freeLE(10);
  assert.equal(pr.isPaused(), false);
  assert.equal(pr.maybeUpdate(9), false, 'stale ack');
});

test('progress: rejections move next back using the hint; stale rejections are ignored', () => {
  const pr = new Progress(11, 4, false);
  assert.equal(pr.maybeDecrTo(9, 3), false, 'not the probe we sent (next-1 is 10)');
  assert.equal(pr.maybeDecrTo(10, 3), true);
  assert.equal(pr.next, 4);
  const rep = new Progress(1, 4, false);
  rep.maybeUpdate(5);
  rep.becomeReplicate();
  rep.sentEntries(3, 8);
  assert.equal(rep.maybeDecrTo(4, 0), false, 'rejected index below match is stale');
  assert.equal(rep.maybeDecrTo(7, 0), true);
  assert.equal(rep.next, 6, 'back to just after the known match');
});

test('progress: snapshot state pauses; a probe after it resumes past the snapshot', () => {
  const pr = new Progress(1, 4, false);
  pr.becomeSnapshot(20);
  assert.equal(pr.isPaused(), true);
  pr.becomeProbe();
  assert.equal(pr.next, 21);
  pr.becomeSnapshot(20);
  pr.pendingSnapshot = 0; // a failed send
  pr.becomeProbe();
  assert.equal(pr.next, 1);
});
