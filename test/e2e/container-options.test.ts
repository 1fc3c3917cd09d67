// Docker's container flags from the CLI to the container, on a one-node lab: `service create` with
// --cap-add, --read-only, --mount, --security-opt, --no-init and --stop-signal gives a task whose PID 1
// shows each of them; `service update` changes them (a new task), `inspect --pretty` shows them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabHostState } from '../../deploy/lab/state.js';
import { createTestLab, isRoot, psJson, running, swl, waitFor } from './harness.js';

/** PID 1 of the task of slot 1: its status lines that matter here, and its command line. */
async function probe(h: LabHostState): Promise<string> {
  const script = [
    'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/1/status',
    'echo "pid1=$(tr "\\0" " " </proc/1/cmdline)"',
    'touch /rootfs-write 2>/dev/null; echo root=$?',
    'touch /scratch/x 2>/dev/null; echo scratch=$?',
  ].join('; ');
  return (await swl(h, ['exec', 'copts.1', '--', 'sh', '-c', script])).stdout;
}

const runningTask = async (h: LabHostState, not?: string) =>
  waitFor('a running task of copts', 60_000, async () =>
    running(await psJson(h, 'copts')).find((t) => t.id !== not),
  );

test(
  'container flags reach the task: create, inspect, update',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 1, 1);
    const n1 = lab.hosts[0]!;
    await swl(n1, [
      'service',
      'create',
      '--name',
      'copts',
      '--cap-add',
      'net_admin',
      '--read-only',
      '--mount',
      'type=tmpfs,target=/scratch,tmpfs-size=16m',
      '--security-opt',
      'no-new-privileges',
      '--no-init',
      '--stop-signal',
      'SIGINT',
      // PID 1 without an init ignores SIGINT: the update's stop ends it by SIGKILL after this.
      '--stop-grace-period',
      '2s',
      '-d',
      'host',
      'sleep',
      '1000',
    ]);
    const first = await runningTask(n1);
    const before = await probe(n1);
    assert.match(before, /^CapEff:\s+00000000a80435fb$/m); // Docker's set plus NET_ADMIN (bit 12)
    assert.match(before, /^NoNewPrivs:\s+1$/m);
    assert.match(before, /^Seccomp:\s+2$/m);
    assert.match(before, /^pid1=sleep 1000 $/m); // no init, even on the host image
    assert.match(before, /^root=1$/m);
    assert.match(before, /^scratch=0$/m);

    const pretty = (await swl(n1, ['service', 'inspect', '--pretty', 'copts'])).stdout;
    assert.match(pretty, /^ Args:\t\tsleep 1000 $/m);
    assert.match(pretty, /^ Init:\t\tfalse$/m);
    assert.match(pretty, /^ StopSignal:\tSIGINT$/m);
    assert.match(pretty, /^Capabilities:\n Add: CAP_NET_ADMIN$/m);
    assert.match(
      pretty,
      /^Mounts:\n Target:\t\/scratch\n {2}Source:\t\n {2}ReadOnly:\tfalse\n {2}Type:\t\ttmpfs$/m,
    );

    await swl(n1, [
      'service',
      'update',
      '--cap-drop',
      'NET_ADMIN',
      '--init',
      '--no-read-only',
      '--security-opt',
      'no-new-privileges=false',
      '--security-opt',
      'seccomp=unconfined',
      '--mount-rm',
      '/scratch',
      '-d',
      'copts',
    ]);
    await runningTask(n1, first.id);
    const after = await waitFor('the updated task answering exec', 60_000, async () => {
      const out = await probe(n1).catch(() => undefined);
      return out && /pid1=\/dev\/init/.test(out) ? out : undefined;
    });
    // NET_ADMIN dropped (from the added list, and from the defaults it was never in).
    assert.match(after, /^CapEff:\s+00000000a80425fb$/m);
    assert.match(after, /^NoNewPrivs:\s+0$/m);
    assert.match(after, /^Seccomp:\s+0$/m);
    assert.match(after, /^pid1=\/dev\/init -- sleep 1000 $/m);
    assert.match(after, /^root=0$/m);
    const spec = JSON.parse((await swl(n1, ['service', 'inspect', 'copts'])).stdout) as {
      spec: { task: { capAdd: string[]; capDrop: string[]; mounts: unknown[] } };
    }[];
    assert.deepEqual(spec[0]!.spec.task.capAdd, []);
    assert.deepEqual(spec[0]!.spec.task.capDrop, ['CAP_NET_ADMIN']);
    assert.deepEqual(spec[0]!.spec.task.mounts, []);
  },
);
