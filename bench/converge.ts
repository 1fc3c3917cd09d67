// How fast a service converges on a real cluster with the real runtime: a 5-host lab (1 manager,
// 4 workers), `service create --replicas 100` until all 100 run, then `scale 100 → 0` until every task
// has stopped and its process is gone. The reference, measured in the same run, is the floor the
// runtime sets: the same 100 sandboxes started and stopped straight through the executor on one host,
// with no manager, Raft, scheduling or sessions in between. Then the same 100 replicas of a busybox
// image (bench/busybox-image.ts; `swarmlite image load` on every node) when this build runs images,
// and Docker Swarm's figure for that image measured in the same run (bench/converge-docker.ts).
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
import { CommandError, run } from '../lib/exec.js';
import { packageRoot } from '../lib/repo.js';
import { writeBenchImage, type BenchImage } from './busybox-image.js';
import { dockerConverge, type DockerPhase } from './converge-docker.js';
import { machineTicks, quiet, TICKS_PER_S, until } from './machine.js';
import { readDaemonRef } from '../deploy/lab/hosts.js';
import {
  AccountingGroup,
  childCgroupsCpuS,
  CPUACCT,
  cpuBreakdown,
  nodeCpu,
  processCpu,
  type CpuBreakdownRow,
  type NodeReading,
} from './task-cpu.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const REPLICAS = 100;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Phase {
  upMs: number;
  downMs: number;
  /** CPU seconds the whole machine spent (every process and the kernel) while the 100 came up. */
  upCpuS: number;
  /** CPU the cluster's own processes spent while the 100 came up, by kind (task-cpu.ts). */
  breakdown?: CpuBreakdownRow[];
}

/** Each lab host's daemon, in a cpuacct folder of the bench's own (undefined without cpuacct v1). */
interface Accounted {
  host: LabHostState;
  pid: number;
  group: AccountingGroup;
}

function account(hosts: LabHostState[]): Accounted[] | undefined {
  if (!AccountingGroup.available()) return undefined;
  return hosts.map((host) => {
    const ref = readDaemonRef(host);
    if (!ref) throw new Error(`${host.hostname}: no daemon running`);
    const group = new AccountingGroup(`swlbench-${LAB}/${host.hostname}`);
    group.enter([ref.pid]);
    return { host, pid: ref.pid, group };
  });
}

function reading(a: Accounted): NodeReading {
  const daemon = processCpu(a.pid);
  if (!daemon) throw new Error(`${a.host.hostname}'s daemon is gone`);
  return {
    daemon,
    group: a.group.cpuS(),
    containers: childCgroupsCpuS(join(CPUACCT, 'swarmlite', a.host.prefix)),
  };
}

/** How long each phase waited for a quiet machine before it started, printed with the figures. */
const waited: string[] = [];
const NODES = 5;
const LAB = `bcv${process.pid % 10_000}`;

/** Each call's deadline. */
const CALL_MS = 30_000;
const api = <R>(h: LabHostState, fn: (c: LocalCalls) => Promise<R>) => withDaemon(`unix://${h.socket}`, fn);

/**
 * How often the bench asks the manager for the tasks: the resolution of its figures. At 20 ms the
 * asking alone (100 tasks listed and encoded each time) took ~0.6 s of the manager's CPU during the
 * create, which the cluster then had the less of; `service create` itself polls every 200 ms.
 */
const POLL_MS = 50;
/** How long a phase may take before it is reported as not measured: Docker's side gets as long. */
const PHASE_MS = 300_000;

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
    // Every start settles before a failure is thrown, so the cleanup below runs after the last of them.
    const starts = await Promise.allSettled(
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
    const failed = starts.filter((r) => r.status === 'rejected');
    if (failed.length)
      throw new Error(`${failed.length} of ${REPLICAS} starts failed, e.g. ${String(failed[0]!.reason)}`);
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

interface BenchTask {
  image: string;
  command: string[];
  stopGracePeriodMs?: number;
}

/**
 * One service's life on the lab: `create` it, wait for all replicas running, then scale it to 0 and
 * wait for every task stopped and its process gone. A task may fail on a loaded machine (a start
 * that times out) and is replaced; once as many tasks have failed as there are replicas, the phase
 * ends with their error (the image path is new: a build may not run images yet).
 */
async function converge(
  manager: LabHostState,
  name: string,
  task: BenchTask,
  accounted: Accounted[] | undefined,
): Promise<Phase> {
  const tasks = async () =>
    (await api(manager, (c) => c.listTasks({ service: name }, CALL_MS))).tasks.map(taskView);
  waited.push(`${name}: ${await quiet()}`);
  const before = accounted?.map(reading);
  const t0 = performance.now();
  const cpu0 = machineTicks().busy;
  const spec = { name, task, replicated: { replicas: REPLICAS } };
  await api(manager, (c) => c.createService({ spec }, CALL_MS));
  const failures = new Map<string, string>();
  let pollError: string | undefined;
  const why = () =>
    [
      failures.size ? `${failures.size} tasks failed, the last: ${[...failures.values()].pop()}` : '',
      pollError ? `last poll: ${pollError}` : '',
    ]
      .filter(Boolean)
      .join('; ');
  try {
    await until(
      `${REPLICAS} running`,
      async () => {
        let all: Awaited<ReturnType<typeof tasks>>;
        try {
          all = await tasks();
          pollError = undefined;
        } catch (err) {
          // A starved daemon answers late; the wait's own deadline bounds how long that may go on.
          pollError = message(err);
          return false;
        }
        for (const t of all)
          if (t.status.state === 'failed' || t.status.state === 'rejected')
            failures.set(t.id, `${t.status.state}: ${t.status.err || t.status.message}`);
        if (failures.size >= REPLICAS) throw new Error(`as many tasks failed as there are replicas`);
        return all.filter((t) => t.status.state === 'running').length === REPLICAS;
      },
      POLL_MS,
      PHASE_MS,
    );
  } catch (err) {
    throw new Error(why() ? `${message(err)} (${why()})` : message(err));
  }
  const upMs = performance.now() - t0;
  const upCpuS = (machineTicks().busy - cpu0) / TICKS_PER_S;
  const breakdown =
    accounted &&
    before &&
    cpuBreakdown(
      accounted.map((a, i) => nodeCpu(a.host.hostname, before[i]!, reading(a))),
      REPLICAS,
      manager.hostname,
    );
  const pids = (await tasks()).map((t) => t.status.pid).filter((p): p is number => typeof p === 'number');
  const refs = pids.map((p) => processRef(p)).filter((r) => r !== undefined);
  const svc = serviceView((await api(manager, (c) => c.getService({ ref: name }, CALL_MS))).service);
  const t1 = performance.now();
  const scaledDown = { ...svc.spec, replicated: { replicas: 0 } };
  await api(manager, (c) =>
    c.updateService({ ref: name, version: svc.meta.version, spec: scaledDown }, CALL_MS),
  );
  await until(
    'all stopped and their processes gone',
    async () => {
      const live = (await tasks()).filter((t) => t.status.state === 'running');
      return live.length === 0 && refs.every((r) => !isRunning(r));
    },
    POLL_MS,
    PHASE_MS,
  );
  return { upMs, downMs: performance.now() - t1, upCpuS, ...(breakdown ? { breakdown } : {}) };
}

/** The CLI against one lab host; its stdout. */
const cli = (h: LabHostState, args: string[]) =>
  run('node', [join(packageRoot(), 'bin', 'swarmlite.js'), '-H', `unix://${h.socket}`, ...args], {
    timeoutMs: 120_000,
  });

/**
 * The busybox image on every node, loaded from the archive Docker loads too. Returns why not when this
 * build cannot (no `image load` yet).
 */
async function loadEverywhere(hosts: LabHostState[], image: BenchImage): Promise<string | undefined> {
  for (const h of hosts) {
    try {
      await cli(h, ['image', 'load', '-q', '-i', image.file]);
    } catch (err) {
      const why = err instanceof CommandError ? err.stderr.trim().split('\n')[0] : String(err);
      return `swarmlite image load on ${h.hostname}: ${why}`;
    }
  }
  return undefined;
}

interface ClusterRun {
  /** Each run, or why it did not run. */
  host: Phase | string;
  image: Phase | string;
}

/** A phase's figures, or why there are none; a failed service is removed so the next phase starts clean. */
async function attempt(
  manager: LabHostState,
  name: string,
  task: BenchTask,
  accounted: Accounted[] | undefined,
): Promise<Phase | string> {
  try {
    return await converge(manager, name, task, accounted);
  } catch (err) {
    await api(manager, (c) => c.removeService({ ref: name }, CALL_MS)).catch(() => undefined);
    return message(err);
  }
}

async function cluster(image: BenchImage): Promise<ClusterRun> {
  const lab = await labUp({ name: LAB, nodes: NODES, managers: 1 });
  const manager = lab.hosts[0]!;
  const accounted = account(lab.hosts);
  try {
    // Today's figure first, on the built-in host image, comparable with the runs before images.
    const host = await attempt(
      manager,
      'bench',
      { image: 'host', command: ['sleep', 'infinity'] },
      accounted,
    );
    const notLoaded = await loadEverywhere(lab.hosts, image);
    if (notLoaded) return { host, image: notLoaded };
    // Grace period 0 s as on Docker's side: `sleep` as a container's pid 1 ignores SIGTERM.
    const task = { image: image.ref, command: ['sleep', 'infinity'], stopGracePeriodMs: 0 };
    return { host, image: await attempt(manager, 'benchimg', task, accounted) };
  } finally {
    // The daemons go with the lab; their folders are removed after it (main).
    groupsToRemove.push(...(accounted?.map((a) => a.group) ?? []));
  }
}

/** The bench's cpuacct folders, removed once the lab is down. */
const groupsToRemove: AccountingGroup[] = [];

const seconds = (ms: number) => `${(ms / 1000).toFixed(2).padStart(6)} s`;
const goal = (ms: number) => `goal < 3 s: ${ms < 3000 ? 'met' : 'MISSED'}`;
const measured = <P extends Phase>(r: P | string) => (typeof r === 'string' ? undefined : r);

function report(reference: Phase | string, run: ClusterRun, docker: DockerPhase | string): void {
  const [ref, host, img, dk] = [
    measured(reference),
    measured(run.host),
    measured(run.image),
    measured(docker),
  ];
  const phase = (title: string, pick: (p: Phase) => number) => {
    console.log(`  ${title}`);
    if (host) {
      const h = pick(host);
      const floor = ref ? `executor alone ${seconds(pick(ref))}, ratio ${(h / pick(ref)).toFixed(2)}` : '';
      console.log(`    swarmlite, host image            ${seconds(h)}   ${floor}   ${goal(h)}`);
    }
    if (img) console.log(`    swarmlite, busybox image         ${seconds(pick(img))}   ${goal(pick(img))}`);
    if (dk) {
      const mine = img ?? host;
      const ratio = mine
        ? `swarmlite (${img ? 'busybox' : 'host'}) / Docker ${(pick(mine) / pick(dk)).toFixed(3)}`
        : '';
      console.log(`    Docker Swarm, busybox image      ${seconds(pick(dk))}   ${ratio}`);
    }
  };
  phase(`create → ${REPLICAS} running`, (p) => p.upMs);
  phase(`scale ${REPLICAS} → 0, all gone`, (p) => p.downMs);
  const missing: Array<[string, Phase | string]> = [
    ['executor alone', reference],
    ['swarmlite, host image', run.host],
    ['swarmlite, busybox image', run.image],
    ['Docker Swarm', docker],
  ];
  for (const [what, r] of missing) if (typeof r === 'string') console.log(`    ${what}: not measured (${r})`);
  const cpu = [
    ...(host ? [`cluster (host) ${host.upCpuS.toFixed(2)} s`] : []),
    ...(img ? [`cluster (busybox) ${img.upCpuS.toFixed(2)} s`] : []),
    ...(ref ? [`executor alone ${ref.upCpuS.toFixed(2)} s`] : []),
    ...(dk ? [`Docker Swarm ${dk.upCpuS.toFixed(2)} s`] : []),
  ];
  console.log(
    `  CPU the machine spent while the ${REPLICAS} came up: ${cpu.join(', ')} (${cpus().length} CPUs)`,
  );
  console.log(`  (each phase began once the machine was quiet; waited ${waited.join('; ')})`);
  const perTask = (p: { breakdown?: CpuBreakdownRow[] } | undefined) =>
    p?.breakdown?.find((r) => r.what === 'total')?.msPerTask;
  const figures = [
    ...(host && perTask(host) !== undefined ? [`swarmlite (host) ${perTask(host)!.toFixed(1)} ms`] : []),
    ...(img && perTask(img) !== undefined ? [`swarmlite (busybox) ${perTask(img)!.toFixed(1)} ms`] : []),
    ...(dk?.cpuMsPerTask !== undefined ? [`Docker Swarm (busybox) ${dk.cpuMsPerTask.toFixed(1)} ms`] : []),
  ];
  if (figures.length)
    console.log(
      `  CPU per task, the systems' own processes only (cpuacct; not the shared machine): ${figures.join(', ')}`,
    );
  for (const [title, p] of [
    ['host image', host],
    ['busybox image', img],
  ] as const) {
    if (!p?.breakdown) continue;
    console.log(`  where swarmlite's CPU went, ${title} (create → ${REPLICAS} running):`);
    for (const r of p.breakdown)
      console.log(
        `    ${r.what.padEnd(66)} ${r.seconds.toFixed(2).padStart(6)} s ${r.msPerTask.toFixed(1).padStart(7)} ms/task`,
      );
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/converge needs root (namespaces, cgroups)');
  console.log(
    `converge: ${REPLICAS} replicas of 'sleep infinity' on a ${NODES}-host lab (1 manager, ${NODES - 1} workers), ` +
      `and on a one-node Docker Swarm in the same run; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'swl-bench-converge-image-'));
  try {
    const image = await writeBenchImage(dir);
    // On a loaded machine 100 starts at once can outlast the runtime's start timeout: the figures
    // that follow are still worth printing.
    const ref = await reference().catch(message);
    let run: ClusterRun;
    try {
      run = await cluster(image);
    } finally {
      await labDown(LAB);
      for (const g of groupsToRemove) g.remove(2);
    }
    // After the lab is down, so the two systems never share the machine.
    const docker = await dockerConverge(image, REPLICAS).catch(message);
    if (typeof docker !== 'string') waited.push(`Docker Swarm ${docker.version}: ${docker.waited}`);
    report(ref, run, docker);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // What the runtime itself costs a task, against the shell path tasks ran on before the OCI runtime.
  for (const line of await startCostReport()) console.log(`  ${line}`);
}

await main();
