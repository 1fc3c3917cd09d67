import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleTask } from '../store/test-fixtures.js';
import type { Task, TaskState, TaskStatus } from '../../api/objects/index.js';
import { applyReport, checkReport, foreignReports } from './task-status.js';

const task = (state: TaskState, nodeId = 'n1'): Task =>
  sampleTask('t1', nodeId, state, { meta: { version: 3, createdAt: '', updatedAt: '' } });

const status = (state: TaskState, over: Partial<TaskStatus> = {}): TaskStatus => ({
  state,
  timestamp: 'T1',
  message: state,
  err: '',
  ...over,
});

test('reports are checked: known states only, and only the states a worker owns', () => {
  assert.equal(checkReport(undefined), 'status.state is required');
  assert.equal(checkReport({ state: 'exploded' as TaskState }), "unknown task state 'exploded'");
  assert.equal(checkReport({ state: 'assigned' }), "a worker cannot report 'assigned'");
  assert.equal(checkReport({ state: 'running' }), undefined);
});

test('a report moves the task forward and carries exit code and pid', () => {
  const out = applyReport(task('assigned'), {
    nodeId: 'n1',
    taskId: 't1',
    status: status('failed', { exitCode: 3, pid: 42, err: 'task: non-zero exit (3)' }),
  })!;
  assert.equal(out.status.state, 'failed');
  assert.equal(out.status.exitCode, 3);
  assert.equal(out.status.pid, 42);
  assert.equal(out.meta.version, 3, 'written against the version read');
});

test('never backward, never for another node, never a no-op', () => {
  assert.equal(
    applyReport(task('failed'), { nodeId: 'n1', taskId: 't1', status: status('running') }),
    undefined,
  );
  assert.equal(
    applyReport(task('assigned', 'n2'), { nodeId: 'n1', taskId: 't1', status: status('running') }),
    undefined,
  );
  assert.equal(applyReport(undefined, { nodeId: 'n1', taskId: 't1', status: status('running') }), undefined);
  const same = task('running');
  same.status.message = 'running';
  assert.equal(applyReport(same, { nodeId: 'n1', taskId: 't1', status: status('running') }), undefined);
});

test("a report naming another node's task (or an unassigned one) is foreign; a task gone is not", () => {
  const holders: Record<string, string> = { mine: 'n1', theirs: 'n2', unassigned: '' };
  const r = (taskId: string) => ({ nodeId: 'n1', taskId, status: status('failed') });
  const reports = ['mine', 'theirs', 'unassigned', 'gone'].map(r);
  assert.deepEqual(
    foreignReports(reports, (id) => holders[id]).map((x) => x.taskId),
    ['theirs', 'unassigned'],
  );
  assert.deepEqual(
    foreignReports([r('mine'), r('gone')], (id) => holders[id]),
    [],
  );
});
