import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../lib/log.js';
import { defaultTaskSpec, type Task, type TaskState, type TaskStatus } from '../../api/objects/index.js';
import { eventually } from '../../test/support.js';
import { SimulatedExecutor } from './simulated-executor.js';
import { exitStatus, TaskRunner } from './task-runner.js';

function task(env: string[] = [], desiredState: TaskState = 'running'): Task {
  return {
    id: 't1',
    meta: { version: 1, createdAt: '', updatedAt: '' },
    serviceId: 's1',
    slot: 2,
    nodeId: 'n1',
    spec: { ...defaultTaskSpec('host', ['sleep', '1']), env, hostname: '{{.Node.Hostname}}-{{.Task.Slot}}' },
    specVersion: 1,
    serviceName: 'web',
    desiredState,
    status: { state: 'assigned', timestamp: '', message: '', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  };
}

function runner(t: Task, executor = new SimulatedExecutor()) {
  const reports: TaskStatus[] = [];
  const r = new TaskRunner(t, {
    executor,
    node: { id: 'n1', hostname: 'node1' },
    log: createLogger('silent'),
    report: (_id, s) => reports.push(s),
  });
  const states = () => reports.map((s) => s.state);
  return { r, reports, states, executor };
}

test('a task walks accepted → preparing → starting → running, then shutdown when told, never back', async () => {
  const { r, states, executor } = runner(task());
  await eventually('running', () => states().at(-1) === 'running');
  assert.deepEqual(states(), ['accepted', 'preparing', 'starting', 'running']);
  assert.deepEqual(executor.running(), ['t1']);
  r.update({ ...task(), desiredState: 'shutdown' });
  await eventually('shutdown', () => states().at(-1) === 'shutdown');
  assert.deepEqual(executor.running(), []);
  r.update({ ...task(), desiredState: 'running' }); // a stale desired state cannot revive it
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(states().at(-1), 'shutdown');
  await r.remove();
});

test('an exit is reported as complete or failed with its code', async () => {
  const ok = runner(task(['SIM_EXIT_AFTER_MS=5', 'SIM_EXIT_CODE=0']));
  await eventually('complete', () => ok.states().at(-1) === 'complete');
  const bad = runner(task(['SIM_EXIT_AFTER_MS=5', 'SIM_EXIT_CODE=3']));
  await eventually('failed', () => bad.states().at(-1) === 'failed');
  const last = bad.reports.at(-1)!;
  assert.equal(last.exitCode, 3);
  assert.equal(last.err, 'task: non-zero exit (3)');
  await ok.r.remove();
  await bad.r.remove();
});

test('a prepare failure rejects the task with the executor message', async () => {
  const { r, reports, states } = runner(task(['SIM_REJECT=unknown image "nginx"']));
  await eventually('rejected', () => states().at(-1) === 'rejected');
  assert.equal(reports.at(-1)!.err, 'unknown image "nginx"');
  await r.remove();
});

test('a network refusal (an encrypted network this node cannot encrypt) rejects the task before it is prepared', async () => {
  const executor = new SimulatedExecutor();
  const reports: TaskStatus[] = [];
  let attached = 0;
  const r = new TaskRunner(task(), {
    executor,
    node: { id: 'n1', hostname: 'node1' },
    log: createLogger('silent'),
    report: (_id, s) => reports.push(s),
    network: {
      refusal: async () => 'network secure is encrypted and this node cannot encrypt',
      attach: async () => void attached++,
      detach: async () => undefined,
    },
  });
  await eventually('rejected', () => reports.at(-1)?.state === 'rejected');
  assert.equal(reports.at(-1)!.err, 'network secure is encrypted and this node cannot encrypt');
  assert.equal(attached, 0, 'never plugged into the network');
  assert.deepEqual(executor.running(), []);
  await r.remove();
});

test('a task told to shut down before it started never starts', async () => {
  const { r, states, executor } = runner(task([], 'shutdown'));
  await eventually('shutdown', () => states().at(-1) === 'shutdown');
  assert.deepEqual(states(), ['shutdown']);
  assert.deepEqual(executor.running(), []);
  await r.remove();
});

test('a task held for its restart delay (desired preparing) is prepared, not started, until told to run', async () => {
  const held = task([], 'preparing');
  const { r, states, executor } = runner(held);
  await eventually('preparing', () => states().at(-1) === 'preparing');
  await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(states(), ['accepted', 'preparing']);
  assert.deepEqual(executor.running(), []);
  r.update({ ...held, desiredState: 'running' });
  await eventually('running', () => states().at(-1) === 'running');
  assert.deepEqual(states(), ['accepted', 'preparing', 'starting', 'running']);
  assert.deepEqual(executor.running(), ['t1']);
  await r.remove();
});

test('a started task the runtime lost (no trace after a restart) is reported failed, not restarted', async () => {
  const t = { ...task(), status: { state: 'running' as const, timestamp: '', message: '', err: '' } };
  const { r, reports } = runner(t);
  await eventually('failed', () => reports.at(-1)?.state === 'failed');
  assert.match(reports.at(-1)!.err, /task lost/);
  await r.remove();
});

test('exit statuses read like Docker', () => {
  assert.deepEqual(exitStatus({ exitCode: 0, oomKilled: false }), {
    state: 'complete',
    message: 'finished',
    err: '',
  });
  assert.equal(
    exitStatus({ exitCode: 137, oomKilled: true }).err,
    'task: non-zero exit (137): OOM killed (memory limit reached)',
  );
  assert.equal(
    exitStatus({ exitCode: 143, signal: 'SIGTERM', oomKilled: false }).err,
    'task: non-zero exit (143): killed by SIGTERM',
  );
});

test('endpoints: announced once running, withdrawn before the stop; an exit withdraws them too', async () => {
  const events: string[] = [];
  const executor = new (class extends SimulatedExecutor {
    // The attacher is handed the task's namespace before it starts; the simulator has none of its own.
    override netnsPath(id: string) {
      return `/run/netns/${id}`;
    }
  })();
  const network = {
    attach: async () => {},
    detach: async () => void events.push('detach'),
    announce: (t: Task) => void events.push(`announce ${t.id}`),
    withdraw: (id: string) => void events.push(`withdraw ${id} running=${executor.running().includes(id)}`),
  };
  const reports: TaskStatus[] = [];
  const deps = { executor, network, node: { id: 'n1', hostname: 'node1' }, log: createLogger('silent') };
  const r = new TaskRunner(task(), { ...deps, report: (_id, s) => reports.push(s) });
  await eventually('running', () => reports.at(-1)?.state === 'running');
  await eventually('announced', () => events.length === 1);
  r.update(task()); // a wake-up while running does not announce again
  r.update({ ...task(), desiredState: 'shutdown' });
  await eventually('shutdown', () => reports.at(-1)?.state === 'shutdown');
  await r.remove();
  assert.deepEqual(events.slice(0, 3), ['announce t1', 'withdraw t1 running=true', 'detach']);
  assert.ok(
    events.slice(3).every((e) => e === 'detach'),
    'nothing but (idempotent) detaches after that',
  );

  events.length = 0;
  const exits = new TaskRunner(task(['SIM_EXIT_AFTER_MS=30']), { ...deps, report: () => {} });
  await eventually('exit withdrawn', () => events.includes('withdraw t1 running=false'));
  assert.equal(events[0], 'announce t1');
  await exits.remove();
});

test('a halted runner leaves its task running and stops watching it; nothing more is reported', async () => {
  const { r, states, executor } = runner(task());
  await eventually('running', () => states().at(-1) === 'running');
  assert.equal(executor.waiting('t1'), 1);
  await r.halt();
  assert.deepEqual(executor.running(), ['t1']);
  assert.equal(executor.waiting('t1'), 0);
  await executor.stop('t1', 0); // the process ends while no daemon watches: the next one reports it
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(states().at(-1), 'running');
});

test('a shutdown that arrives while an adopted task is being reattached to its networks is not lost', async () => {
  // A chaos round (all managers killed, a rolling update under way) left a task running/shutdown for
  // minutes: the desired-state change landed while the adopted task awaited its network reattach, woke
  // nobody, and the runner then waited for a change that had already come.
  const first = runner(
    task(),
    new (class extends SimulatedExecutor {
      override netnsPath(id: string) {
        return `/run/netns/${id}`;
      }
    })(),
  );
  await eventually('running', () => first.states().at(-1) === 'running');
  await first.r.halt();
  const { executor } = first;
  let releaseAttach: () => void = () => {};
  let attaching = false;
  const network = {
    attach: () => {
      attaching = true;
      return new Promise<void>((res) => (releaseAttach = res));
    },
    detach: async () => {},
  };
  const reports: TaskStatus[] = [];
  const running = { ...task(), status: { state: 'running' as const, timestamp: '', message: '', err: '' } };
  const adopted = new TaskRunner(
    running,
    {
      executor,
      network,
      node: { id: 'n1', hostname: 'node1' },
      log: createLogger('silent'),
      report: (_id, s) => reports.push(s),
    },
    { phase: 'started', pid: 1 },
  );
  await eventually('reattaching', () => attaching);
  adopted.update({ ...running, desiredState: 'shutdown' });
  releaseAttach();
  await eventually('shutdown reported', () => reports.at(-1)?.state === 'shutdown');
  assert.deepEqual(executor.running(), []);
  await adopted.remove();
});
