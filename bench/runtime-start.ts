// The cost of starting one task's container: the OCI path (the supervisor, runc create, runc start,
// until the container runs) against the shell path tasks ran on before it (task-start.sh: nsenter,
// unshare, task-init.sh, until the command runs), measured in the same run on the same machine.
// Both start `sleep infinity` in a prepared sandbox; prepare (netns, cgroup, overlay mount) is not
// counted. The reference's scripts are read from the git history of this checkout (the commit before
// the OCI runtime); without that history the reference is reported missing.
//   node dist/bench/runtime-start.js     (root; also printed by bench:converge)
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, run } from '../lib/exec.js';
import { packageRoot } from '../lib/repo.js';
import { newId } from '../lib/ids.js';
import { defaultTaskSpec } from '../manager/store/index.js';
import { TaskRuntime } from '../worker/exec/runtime.js';

/** The last commit whose tasks ran on the shell shims. */
const SHIM_COMMIT = '7797dad8ff235610d10e409e45ce206f0e252719';
const SHIM_SCRIPTS = ['task-start.sh', 'task-init.sh', 'task-log.sh'];
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StartCost {
  /** Median wall time of one start, ms. */
  medianMs: number;
  /** CPU the whole machine spent per start (every process and the kernel), ms. */
  cpuMsPerTask: number;
}

/** Busy CPU ticks of the whole machine so far (/proc/stat, 1/100 s). */
function busyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(n: number, startOne: (i: number) => Promise<void>): Promise<StartCost> {
  const times: number[] = [];
  const cpu0 = busyTicks();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await startOne(i);
    times.push(performance.now() - t0);
  }
  return { medianMs: median(times), cpuMsPerTask: ((busyTicks() - cpu0) * 10) / n };
}

/** n containers through the task runtime: only start() is timed. */
async function ociPath(n: number, prefix: string): Promise<StartCost> {
  const root = mkdtempSync(join(tmpdir(), `swl-${prefix}-`));
  const rt = new TaskRuntime({
    root,
    prefix,
    nodeHostname: 'bench',
    swarmliteBinDir: join(packageRoot(), 'bin'),
  });
  const ids = Array.from({ length: n }, () => newId());
  try {
    for (const [i, taskId] of ids.entries())
      await rt.prepare({
        taskId,
        name: `b.${i}.${taskId}`,
        serviceId: 'b',
        serviceName: 'b',
        slot: i + 1,
        spec: defaultTaskSpec('host', ['sleep', 'infinity']),
      });
    return await measure(n, async (i) => void (await rt.start(ids[i]!)));
  } finally {
    for (const id of ids) await rt.remove(id).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
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
async function shimPath(n: number, prefix: string): Promise<StartCost | undefined> {
  const dir = mkdtempSync(join(tmpdir(), `swl-${prefix}-`));
  const netns = `${prefix}n`;
  const cgroups = ['memory', 'cpu', 'pids'].map((c) => join('/sys/fs/cgroup', c, `swl-${prefix}`));
  const groups: number[] = [];
  try {
    if (!shimScripts(dir)) return undefined;
    await run('ip', ['netns', 'add', netns]);
    for (const c of cgroups) mkdirSync(c, { recursive: true });
    return await measure(n, async (i) => {
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
      // The old start() returned once init wrote the command's pid (it watched the folder; 2 ms looks here).
      const started = join(state, 'started');
      while (!(existsSync(started) && readFileSync(started, 'utf8').trim())) await sleep(2);
    });
  } finally {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const c of cgroups) {
      for (let i = 0; i < 100 && existsSync(c); i++) {
        try {
          execFileSync('rmdir', [c]);
        } catch {
          await sleep(20); // its processes are still dying
        }
      }
    }
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both paths, alternating rounds; the lines to print. */
export async function startCostReport(n = 20, rounds = 3): Promise<string[]> {
  const oci: StartCost[] = [];
  const shim: StartCost[] = [];
  const prefix = `bst${process.pid % 10_000}`;
  for (let r = 0; r < rounds; r++) {
    oci.push(await ociPath(n, `${prefix}o`));
    const s = await shimPath(n, `${prefix}s`);
    if (s) shim.push(s);
  }
  const fmt = (xs: StartCost[]) =>
    `${median(xs.map((x) => x.medianMs)).toFixed(1)} ms a start, ${median(xs.map((x) => x.cpuMsPerTask)).toFixed(1)} ms of machine CPU a task`;
  const lines = [`runtime start cost (${rounds} rounds of ${n} sequential starts, medians):`];
  lines.push(`  OCI path (supervisor + runc create + runc start): ${fmt(oci)}`);
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
