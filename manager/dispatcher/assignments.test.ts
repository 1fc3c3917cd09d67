import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleTask } from '../store/test-fixtures.js';
import { NodeAssignments } from './assignments.js';

const task = sampleTask;

test('the first take is the full set of tasks assigned to the node, then only changes', () => {
  const a = new NodeAssignments('n1', [
    task('t1', 'n1', 'assigned'),
    task('t2', 'n1', 'pending'), // not yet the node's
    task('t3', 'n2', 'running'), // another node's
    task('t4', 'n1', 'running'),
  ]);
  const first = a.take()!;
  assert.equal(first.full, true);
  assert.deepEqual(first.tasks.map((t) => t.id).sort(), ['t1', 't4']);
  assert.equal(a.take(), undefined, 'nothing changed since');
});

test("a status-only change (the node's own report) is not echoed back; a desired-state change is", () => {
  const a = new NodeAssignments('n1', [task('t1', 'n1', 'assigned')]);
  a.take();
  assert.equal(
    a.note(task('t1', 'n1', 'running', { meta: { version: 2, createdAt: '', updatedAt: '' } }), false),
    false,
  );
  assert.equal(a.take(), undefined);
  assert.equal(a.note(task('t1', 'n1', 'running', { desiredState: 'shutdown' }), false), true);
  const next = a.take()!;
  assert.equal(next.full, false);
  assert.deepEqual(
    next.tasks.map((t) => [t.id, t.desiredState]),
    [['t1', 'shutdown']],
  );
});

test('a task deleted or moved away is reported removed once; one never sent is not', () => {
  const a = new NodeAssignments('n1', [task('t1', 'n1', 'running'), task('t2', 'n1', 'running')]);
  a.take();
  assert.equal(a.note(task('t1', 'n1', 'running'), true), true);
  assert.equal(a.note(task('t2', 'n2', 'assigned'), false), true);
  assert.equal(a.note(task('t9', 'n2', 'assigned'), false), false);
  assert.deepEqual(a.take()!.removed.sort(), ['t1', 't2']);
  assert.equal(a.note(task('t1', 'n1', 'running'), true), false, 'already removed');
});

test('a task newly assigned to the node is sent', () => {
  const a = new NodeAssignments('n1', []);
  assert.deepEqual(a.take(), { full: true, tasks: [], removed: [] });
  assert.equal(a.note(task('t5', 'n1', 'pending'), false), false, 'pending is not assigned yet');
  assert.equal(a.note(task('t5', 'n1', 'assigned'), false), true);
  assert.deepEqual(
    a.take()!.tasks.map((t) => t.id),
    ['t5'],
  );
});
