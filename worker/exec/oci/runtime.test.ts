import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { OciCli, parseState } from './runtime.js';
import { hostSpec, runTask, testRuntime } from '../test-fixtures.js';
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

test('the runc shell on a task the runtime runs: state, list, kill with a signal, delete', async (t) => {
  const { rt, root } = testRuntime(t);
  const oci = new OciCli(join(root, '.runc'));
  const { id, pid } = await runTask(rt, hostSpec(['sleep', '1000']));
  assert.equal(oci.knows(id), true);
  assert.equal(oci.knows('never-created'), false);
  const state = await oci.state(id);
  assert.equal(state?.status, 'running');
  assert.equal(state?.pid, pid);
  assert.equal(state?.bundle, join(root, id));
  assert.deepEqual(
    (await oci.list()).map((s) => [s.id, s.status]),
    [[id, 'running']],
  );
  await oci.kill(id, 'SIGUSR1'); // tini forwards it; sleep dies of it
  assert.deepEqual(await rt.wait(id), { exitCode: 138, signal: 'SIGUSR1', oomKilled: false });
  assert.equal((await oci.state(id))?.status, 'stopped');
  await oci.delete(id, false);
  assert.equal(await oci.state(id), undefined);
  assert.equal(oci.knows(id), false);
  await oci.delete(id, false); // idempotent
  await rt.remove(id);
  assert.deepEqual(await oci.list(), []);
});
