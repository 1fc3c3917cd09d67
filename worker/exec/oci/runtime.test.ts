import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseState } from './runtime.js';
import { runtimeLogError } from '../container-launch.js';

test("runc's state output, and anything else refused", () => {
  assert.deepEqual(
    parseState(
      '{"ociVersion":"1.0.2","id":"t1","pid":4242,"status":"running","bundle":"/b","rootfs":"/b/rootfs"}',
    ),
    { id: 't1', pid: 4242, status: 'running', bundle: '/b' },
  );
  assert.throws(() => parseState('{"id":"t1","pid":1,"status":"exploded"}'), /unexpected OCI runtime state/);
  assert.throws(() => parseState('{"id":"t1","status":"running"}'), /unexpected OCI runtime state/);
});

test("the error of runc's JSON log, other lines skipped", () => {
  assert.equal(
    runtimeLogError(
      '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH","time":"2026-12-06T21:00:00Z"}',
    ),
    'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH',
  );
  assert.equal(runtimeLogError('{"level":"warning","msg":"x"}'), undefined);
  assert.equal(runtimeLogError('not json'), undefined);
  assert.equal(runtimeLogError(''), undefined);
});
