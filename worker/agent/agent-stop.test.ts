// A stopped agent lets its daemon exit at once (root: real tasks in namespaces). The daemon's SIGTERM
// path ends with nothing of its own left on the event loop, then Node exits; a task the agent still
// watched (the runtime polls its process) kept the loop alive until the 10 s forced exit. The task
// itself must outlive the daemon and be there for the next one to adopt.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Task } from '../../api/objects/index.js';
import { newId } from '../../lib/ids.js';
import { isRunning, processRef } from '../../lib/process.js';
import { hostSpec, leftovers, testRuntime } from '../exec/test-fixtures.js';

function sleeper(id: string): Task {
  return {
    id,
    meta: { version: 1, createdAt: '', updatedAt: '' },
    serviceId: 's1',
    slot: 1,
    nodeId: 'n1',
    spec: hostSpec(['sleep', '1000']),
    specVersion: 1,
    serviceName: 'sleeper',
    desiredState: 'running',
    status: { state: 'assigned', timestamp: '', message: '', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  };
}

test('a stopped agent holds nothing: its process exits by itself, the task runs on and is adopted', async (t) => {
  const { prefix, root, make } = testRuntime(t);
  const task = sleeper(newId());
  const agentJs = fileURLToPath(new URL('./agent.js', import.meta.url));
  const runtimeJs = fileURLToPath(new URL('../exec/runtime.js', import.meta.url));
  const logJs = fileURLToPath(new URL('../../lib/log.js', import.meta.url));
  // A separate process plays the daemon: the agent with the real runtime, fed by a session that hands
  // it one assignment. Once the task reports running, the agent is stopped and nothing else is done:
  // the process must then end on its own, as the daemon does after `daemon stopped`.
  const daemon = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { EventEmitter } from 'node:events';
       import { Agent } from ${JSON.stringify(agentJs)};
       import { TaskRuntime } from ${JSON.stringify(runtimeJs)};
       import { createLogger } from ${JSON.stringify(logJs)};
       const task = ${JSON.stringify(task)};
       const executor = new TaskRuntime(${JSON.stringify({ root, prefix, nodeHostname: 'n', swarmliteBinDir: '/opt/b', pollMs: 20 })});
       const agent = new Agent({ executor, node: { id: 'n1', hostname: 'n' }, log: createLogger('silent') });
       const session = new EventEmitter();
       session.reportStatus = async (updates) => {
         const running = updates.find((u) => u.status.state === 'running');
         if (!running) return;
         await agent.stop();
         process.stdout.write(running.status.pid + '\\n');
       };
       agent.attach(session);
       session.emit('assignments', { full: true, tasks: [task], removed: [] });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => daemon.kill('SIGKILL'));
  let out = '';
  daemon.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // Generous: a stopped agent lets the process end within milliseconds; one that still watches never.
  const exited = await new Promise<number | null | 'alive'>((resolve) => {
    const timer = setTimeout(() => resolve('alive'), 60_000);
    daemon.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  assert.equal(exited, 0, 'the stand-in daemon did not exit by itself after agent.stop()');
  const pid = Number(out.trim());
  assert.ok(pid > 1, `the task's pid, as reported running: ${out}`);
  assert.ok(isRunning(processRef(pid)!), 'the task died with its agent');

  // The next daemon finds it running, as the agent that adopts it will.
  const rt = make();
  assert.deepEqual(await rt.list(), [{ taskId: task.id, state: 'running', pid }]);
  await rt.stop(task.id, 1000);
  await rt.remove(task.id);
  assert.deepEqual(leftovers(prefix, root, [pid]), []);
});
