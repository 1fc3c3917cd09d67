// The cost of starting one task's container: the OCI path (the supervisor, runc create, runc start,
// until the container runs) against the shell path tasks ran on before it (task-start.sh: nsenter,
// unshare, task-init.sh, until the command runs), measured in the same run on the same machine.
// Both start `sleep infinity` in a prepared sandbox; prepare (netns, cgroup, overlay mount) is not
// counted. CPU is the CPU of this process and everything it starts (a cpuacct cgroup the bench
// moves itself into, plus the containers' own cgroups, which runc moves their processes to), so
// the other load of a shared machine is not counted. The reference's scripts are read from the git history of this checkout (the commit before
// the OCI runtime); without that history the reference is reported missing.
//   npm run bench:runtime     (root; also printed by bench:converge)
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, run } from '../lib/exec.js';
import { packageRoot } from '../lib/repo.js';
import { newId } from '../lib/ids.js';
import { defaultTaskSpec } from '../api/objects/index.js';
import { TaskRuntime } from '../worker/exec/runtime.js';

/** The last commit whose tasks ran on the shell shims. */
const SHIM_COMMIT = '7797dad8ff235610d10e409e45ce206f0e252719';
const SHIM_SCRIPTS = ['task-start.sh', 'task-init.sh', 'task-log.sh'];
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StartCost {
  /** Median wall time of one start, ms. */
  medianMs: number;
  /** CPU of the bench and everything it started, per start, ms. */
  cpuMsPerTask: number;
  /** The OCI path's prepare before it (image, overlay mount, netns, bundle files), CPU per task, ms. */
  prepareCpuMs?: number;
}

const CPUACCT = '/sys/fs/cgroup/cpuacct';

/** CPU ns of a v1 cpuacct cgroup folder (0 once it is gone). */
function cpuNs(dir: string): number {
  try {
    return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8'));
  } catch {
    return 0;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * n sequential starts. `extraCpuNs` reads CPU spent outside the bench's cgroup by what was started
 * (the containers' cgroups), after the starts.
 */
async function measure(
  n: number,
  benchCgroup: string,
  startOne: (i: number) => Promise<void>,
  extraCpuNs: () => number = () => 0,
): Promise<StartCost> {
  const times: number[] = [];
  const cpu0 = cpuNs(benchCgroup);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await startOne(i);
    times.push(performance.now() - t0);
  }
  const cpu = cpuNs(benchCgroup) - cpu0 + extraCpuNs();
  return { medianMs: median(times), cpuMsPerTask: cpu / 1e6 / n };
}

/** n containers through the task runtime: only start() is timed. */
/**
 * n containers through the task runtime: only start() is timed. `raw`: the same bundles started by
 * `runc create` and `runc start` alone, without the supervisor, the log writers or the runtime's
 * bookkeeping (their output is discarded and their exit status lost): runc's own share of a start.
 */
async function ociPath(n: number, prefix: string, benchCgroup: string, raw = false): Promise<StartCost> {
  const root = mkdtempSync(join(tmpdir(), `swl-${prefix}-`));
  const rt = new TaskRuntime({
    root,
    prefix,
    nodeHostname: 'bench',
    swarmliteBinDir: join(packageRoot(), 'bin'),
  });
  const ids = Array.from({ length: n }, () => newId());
  try {
    const prepare0 = cpuNs(benchCgroup);
    for (const [i, taskId] of ids.entries())
      await rt.prepare({
        taskId,
        name: `b.${i}.${taskId}`,
        serviceId: 'b',
        serviceName: 'b',
        slot: i + 1,
        spec: defaultTaskSpec('host', ['sleep', 'infinity']),
      });
    const prepareCpuMs = (cpuNs(benchCgroup) - prepare0) / 1e6 / n;
    const runc = ['--root', join(root, '.runc')];
    const startOne = raw
      ? async (i: number) => {
          await runcDetached([...runc, 'create', '--bundle', join(root, ids[i]!), ids[i]!]);
          await runcDetached([...runc, 'start', ids[i]!]);
        }
      : async (i: number) => void (await rt.start(ids[i]!));
    const cost = await measure(n, benchCgroup, startOne, () =>
      ids.reduce((sum, id) => sum + cpuNs(join(CPUACCT, 'swarmlite', prefix, id)), 0),
    );
    return { ...cost, prepareCpuMs };
  } finally {
    if (raw)
      for (const id of ids)
        await run('runc', ['--root', join(root, '.runc'), 'delete', '-f', id]).catch(() => undefined);
    for (const id of ids) await rt.remove(id).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * runc with /dev/null for stdio: create hands its stdio to the container, so pipes to this process
 * would stay open as long as the container runs.
 */
function runcDetached(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(findTool('runc'), args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`runc ${args.join(' ')}: exit ${code}`)),
    );
  });
}

/** The shell path's scripts from git, or undefined without the history. */
function shimScripts(dir: string): boolean {
  try {
    for (const name of SHIM_SCRIPTS) {
      const text = execFileSync(
        'git',
        ['-C', packageRoot(), 'show', `${SHIM_COMMIT}:worker/exec/shim/${name}`],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      writeFileSync(join(dir, name), text, { mode: 0o755 });
    }
    return true;
  } catch {
    return false;
  }
}

/** n launches of the old chain in one netns and one cgroup folder per controller, as a task's. */
async function shimPath(n: number, prefix: string, benchCgroup: string): Promise<StartCost | undefined> {
  const dir = mkdtempSync(join(tmpdir(), `swl-${prefix}-`));
  const netns = `${prefix}n`;
  const cgroups = ['memory', 'cpu', 'pids'].map((c) => join('/sys/fs/cgroup', c, `swl-${prefix}`));
  const groups: number[] = [];
  try {
    if (!shimScripts(dir)) return undefined;
    await run('ip', ['netns', 'add', netns]);
    for (const c of cgroups) mkdirSync(c, { recursive: true });
    return await measure(n, benchCgroup, async (i) => {
      const state = join(dir, `t${i}`);
      mkdirSync(join(state, 'logs'), { recursive: true });
      // What the old entry script held for a root task: workdir, then a clean environment.
      writeFileSync(
        join(state, 'entry.sh'),
        `cd -- '/' || exit 126\nexec env -i --default-signal -- 'PATH=${SYSTEM_PATH}' "$@" 9<&-\n`,
      );
      const child = spawn(
        findTool('bash'),
        [
          join(dir, 'task-start.sh'),
          state,
          `/run/netns/${netns}`,
          `t${i}`,
          String(10 << 20),
          '3',
          findTool('nsenter'),
          findTool('unshare'),
          ...cgroups.map((c) => join(c, 'cgroup.procs')),
          '--',
          'sleep',
          'infinity',
        ],
        { detached: true, stdio: 'ignore', cwd: '/', env: { PATH: SYSTEM_PATH, LC_ALL: 'C' } },
      );
      child.unref();
      groups.push(child.pid!);
      // The old start() returned once init wrote the command's pid, watching the folder as the new one does.
      const started = join(state, 'started');
      await new Promise<void>((resolve) => {
        const done = () => existsSync(started) && readFileSync(started, 'utf8').trim() !== '';
        const watcher = watch(state, () => done() && finish());
        const backstop = setInterval(() => done() && finish(), 100);
        function finish() {
          watcher.close();
          clearInterval(backstop);
          resolve();
        }
        if (done()) finish();
      });
    });
  } finally {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const c of cgroups) await rmdirWhenEmpty(c);
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A cgroup folder is busy until its last process is reaped. */
async function rmdirWhenEmpty(dir: string): Promise<void> {
  for (let i = 0; i < 250 && existsSync(dir); i++) {
    try {
      rmdirSync(dir);
    } catch {
      await sleep(20);
    }
  }
}

/** Both paths, alternating rounds; the lines to print. */
export async function startCostReport(n = 10, rounds = 3): Promise<string[]> {
  const oci: StartCost[] = [];
  const raw: StartCost[] = [];
  const shim: StartCost[] = [];
  const prefix = `bst${process.pid % 10_000}`;
  if (!existsSync(join(CPUACCT, 'cpuacct.usage')))
    return ['runtime start cost: not measured (needs the cgroup v1 cpuacct hierarchy to count CPU)'];
  // This process and all it starts are counted in a cgroup of the bench's own.
  const benchCgroup = join(CPUACCT, `swl-${prefix}`);
  const home =
    readFileSync('/proc/self/cgroup', 'utf8').match(/^\d+:[^:]*\bcpuacct\b[^:]*:(.*)$/m)?.[1] ?? '/';
  mkdirSync(benchCgroup, { recursive: true });
  writeFileSync(join(benchCgroup, 'cgroup.procs'), String(process.pid));
  try {
    for (let r = 0; r < rounds; r++) {
      oci.push(await ociPath(n, `${prefix}o`, benchCgroup));
      raw.push(await ociPath(n, `${prefix}r`, benchCgroup, true));
      const s = await shimPath(n, `${prefix}s`, benchCgroup);
      if (s) shim.push(s);
    }
  } finally {
    writeFileSync(join(CPUACCT, home, 'cgroup.procs'), String(process.pid));
    await rmdirWhenEmpty(benchCgroup);
  }
  const fmt = (xs: StartCost[]) =>
    `${median(xs.map((x) => x.medianMs)).toFixed(1)} ms a start, ${median(xs.map((x) => x.cpuMsPerTask)).toFixed(1)} ms of CPU a start`;
  const lines = [`runtime start cost (${rounds} rounds of ${n} sequential starts, medians):`];
  lines.push(`  OCI path (supervisor + runc create + runc start): ${fmt(oci)}`);
  lines.push(
    `    before it, prepare (overlay mount, netns, bundle):  ${median(oci.map((x) => x.prepareCpuMs ?? 0)).toFixed(1)} ms of CPU a task`,
  );
  lines.push(`    of which runc create + runc start alone:        ${fmt(raw)}`);
  lines.push(
    shim.length
      ? `  old shell path (task-start.sh, nsenter, unshare, task-init.sh):  ${fmt(shim)}`
      : `  old shell path: not measured (needs this checkout's git history, commit ${SHIM_COMMIT.slice(0, 7)})`,
  );
  return lines;
}

// Run as a script (not imported by bench/converge.ts).
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const line of await startCostReport()) console.log(line);
}
