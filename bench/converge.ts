// How fast a service converges on a real cluster with the real runtime: a 5-host lab (1 manager,
// 4 workers), `service create --replicas 100` until all 100 run, then `scale 100 → 0` until every task
// has stopped and its process is gone. The reference, measured in the same run, is the floor the
// runtime sets: the same 100 sandboxes started and stopped straight through the executor on one host,
// with no manager, Raft, scheduling or sessions in between.
//   npm run bench:converge          (root; makes and removes its own lab)
import { labDown, labUp } from '../deploy/lab/lab.js';
import { withDaemon, type LocalCalls } from '../daemon/client.js';
import { createLogger } from '../lib/log.js';
import { newId } from '../lib/ids.js';
import type { LabHostState } from '../deploy/lab/state.js';
import { serviceView, taskView } from '../cli/objects.js';
import { defaultTaskSpec } from '../api/objects/index.js';
import { isRunning, processRef } from '../lib/process.js';
import { createExecutor } from '../daemon/executor.js';
import { startCostReport } from './runtime-start.js';
import { DAEMON_DEFAULTS } from '../daemon/options.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const REPLICAS = 100;
interface Phase {
  upMs: number;
  downMs: number;
  /** CPU seconds the whole machine spent (every process and the kernel) while the 100 came up. */
  upCpuS: number;
}

/** How long each phase waited for a quiet machine before it started, printed with the figures. */
const waited: string[] = [];
const NODES = 5;
const LAB = `bcv${process.pid % 10_000}`;

/** Each call's deadline. */
const CALL_MS = 30_000;
const api = <R>(h: LabHostState, fn: (c: LocalCalls) => Promise<R>) => withDaemon(`unix://${h.socket}`, fn);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** USER_HZ: /proc/stat counts in 1/100 s on Linux. */
const TICKS_PER_S = 100;

/** Busy and total CPU time of the whole machine so far (/proc/stat's first line, in ticks). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!; // idle + iowait
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet: a phase starts while the last one's leftovers still run (a lab
 * settling after its joins, the kernel freeing the reference's 100 network namespaces in a worker
 * thread), and would be measured with them. Quiet: two 250 ms windows under 15% busy, at most 30 s.
 */
async function quiet(): Promise<string> {
  const t0 = performance.now();
  let calm = 0;
  let share = 1;
  while (calm < 2 && performance.now() - t0 < 30_000) {
    const a = machineTicks();
    await sleep(250);
    const b = machineTicks();
    share = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    calm = share < 0.15 ? calm + 1 : 0;
  }
  return `${((performance.now() - t0) / 1000).toFixed(1)} s, last window ${(share * 100).toFixed(0)}% busy`;
}

/**
 * How often the bench asks the manager for the tasks: the resolution of its figures. At 20 ms the
 * asking alone (100 tasks listed and encoded each time) took ~0.6 s of the manager's CPU during the
 * create, which the cluster then had the less of; `service create` itself polls every 200 ms.
 */
const POLL_MS = 50;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** The executor alone: 100 sandboxes prepared, started, stopped and removed on this host. */
async function reference(): Promise<Phase> {
  const root = mkdtempSync(join(tmpdir(), 'swl-bench-converge-'));
  const executor = createExecutor(
    {
      ...DAEMON_DEFAULTS,
      dataRoot: root,
      execRoot: join(root, 'exec'),
      netnsPrefix: `${LAB}r-`,
      executor: 'runtime',
    },
    createLogger('silent'),
  );
  const ids = Array.from({ length: REPLICAS }, () => newId());
  waited.push(`reference: ${await quiet()}`);
  try {
    const t0 = performance.now();
    const cpu0 = machineTicks().busy;
    await Promise.all(
      ids.map(async (taskId, i) => {
        await executor.prepare({
          taskId,
          name: `ref.${i + 1}.${taskId}`,
          serviceId: 'ref',
          serviceName: 'ref',
          slot: i + 1,
          spec: defaultTaskSpec('host', ['sleep', 'infinity']),
        });
        await executor.start(taskId);
      }),
    );
    const upMs = performance.now() - t0;
    const upCpuS = (machineTicks().busy - cpu0) / TICKS_PER_S;
    const t1 = performance.now();
    await Promise.all(
      ids.map(async (taskId) => {
        await executor.stop(taskId, 10_000);
        await executor.remove(taskId);
      }),
    );
    return { upMs, downMs: performance.now() - t1, upCpuS };
  } finally {
    await Promise.all(ids.map((id) => executor.remove(id).catch(() => {})));
    rmSync(root, { recursive: true, force: true });
  }
}

async function cluster(): Promise<Phase> {
  const lab = await labUp({ name: LAB, nodes: NODES, managers: 1 });
  const manager = lab.hosts[0]!;
  waited.push(`cluster: ${await quiet()}`);
  const tasks = async () =>
    (await api(manager, (c) => c.listTasks({ service: 'bench' }, CALL_MS))).tasks.map(taskView);
  const t0 = performance.now();
  const cpu0 = machineTicks().busy;
  const spec = {
    name: 'bench',
    task: { image: 'host', command: ['sleep', 'infinity'] },
    replicated: { replicas: REPLICAS },
  };
  await api(manager, (c) => c.createService({ spec }, CALL_MS));
  await until(
    '100 running',
    async () => (await tasks()).filter((t) => t.status.state === 'running').length === REPLICAS,
  );
  const upMs = performance.now() - t0;
  const upCpuS = (machineTicks().busy - cpu0) / TICKS_PER_S;
  const pids = (await tasks()).map((t) => t.status.pid).filter((p): p is number => typeof p === 'number');
  const refs = pids.map((p) => processRef(p)).filter((r) => r !== undefined);
  const svc = serviceView((await api(manager, (c) => c.getService({ ref: 'bench' }, CALL_MS))).service);
  const t1 = performance.now();
  const scaledDown = { ...svc.spec, replicated: { replicas: 0 } };
  await api(manager, (c) =>
    c.updateService({ ref: 'bench', version: svc.meta.version, spec: scaledDown }, CALL_MS),
  );
  await until('all stopped and their processes gone', async () => {
    const live = (await tasks()).filter((t) => t.status.state === 'running');
    return live.length === 0 && refs.every((r) => !isRunning(r));
  });
  return { upMs, downMs: performance.now() - t1, upCpuS };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/converge needs root (namespaces, cgroups)');
  console.log(
    `converge: ${REPLICAS} replicas of 'host sleep infinity' on a ${NODES}-host lab (1 manager, ${NODES - 1} workers)`,
  );
  const ref = await reference();
  let run: Phase;
  try {
    run = await cluster();
  } finally {
    await labDown(LAB);
  }
  const row = (what: string, ms: number, refMs: number) =>
    console.log(
      `  ${what.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(6)} s   executor alone ${(refMs / 1000).toFixed(2).padStart(6)} s   ratio ${(ms / refMs).toFixed(2)}   goal < 3 s: ${ms < 3000 ? 'met' : 'MISSED'}`,
    );
  row(`create → ${REPLICAS} running`, run.upMs, ref.upMs);
  row(`scale ${REPLICAS} → 0, all gone`, run.downMs, ref.downMs);
  console.log(
    `  CPU the machine spent while the 100 came up: cluster ${run.upCpuS.toFixed(2)} s, executor alone ${ref.upCpuS.toFixed(2)} s (${cpus().length} CPUs)`,
  );
  console.log(`  (each phase began once the machine was quiet; waited ${waited.join('; ')})`);
  // What the runtime itself costs a task, against the shell path tasks ran on before the OCI runtime.
  for (const line of await startCostReport()) console.log(`  ${line}`);
}

await main();
