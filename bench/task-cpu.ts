// CPU per task, counted for what a system under test runs and nothing else: the machine is shared
// (CI series beside stress-ng), so wall-clock and whole-machine figures are noise, while the CPU a
// cluster's own processes spend per task is stable. Counted with cpuacct cgroups (v1; in ns, exact):
// the bench moves each daemon into a folder of its own before the measurement, so every process it
// starts afterwards (the OCI runtime, launchers, supervisors, log writers, ip, mount, helpers) is
// counted there until it moves into its container's cgroup, which is read too. A daemon's own share
// is its /proc/PID/stat (user + system, all threads); what it reaped of its children is the same
// file's cutime + cstime.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The cpuacct hierarchy (v1). Absent on cgroup v2-only machines: the figures are then not measured. */
export const CPUACCT = '/sys/fs/cgroup/cpuacct';
/** USER_HZ: /proc/PID/stat counts in 1/100 s on Linux. */
const TICKS_PER_S = 100;

export interface ProcessCpu {
  /** utime + stime of every thread, seconds. */
  self: number;
  /** cutime + cstime: the children it waited for, seconds. */
  children: number;
}

/** Pure: /proc/PID/stat → its CPU (fields 14-17, counted after the command's closing parenthesis). */
export function parseProcStat(text: string): ProcessCpu {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  // After ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
  if ([utime, stime, cutime, cstime].some((n) => n === undefined || !Number.isFinite(n)))
    throw new Error(`not a /proc/PID/stat line: ${text.slice(0, 80)}`);
  return { self: (utime! + stime!) / TICKS_PER_S, children: (cutime! + cstime!) / TICKS_PER_S };
}

export function processCpu(pid: number): ProcessCpu | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU seconds of a cpuacct folder and everything below it (0 when it does not exist). */
export function cgroupCpuS(dir: string): number {
  try {
    return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e9;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of each folder directly under `dir` (the containers of one daemon, a folder each). Read
 * while the tasks run: the folders go with them.
 */
export function childCgroupsCpuS(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) out.set(e.name, cgroupCpuS(join(dir, e.name)));
  return out;
}

/** Pure: what the folders spent between two readings (a folder made in between counts whole). */
export function cgroupsDelta(before: Map<string, number>, after: Map<string, number>): number {
  let sum = 0;
  for (const [name, s] of after) sum += s - (before.get(name) ?? 0);
  return sum;
}

/** A cpuacct folder the bench made (named with its prefix) and moves processes into. */
export class AccountingGroup {
  readonly dir: string;

  constructor(name: string) {
    if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(name)) throw new Error(`invalid cgroup name ${name}`);
    this.dir = join(CPUACCT, name);
  }

  static available(): boolean {
    return existsSync(join(CPUACCT, 'cpuacct.usage'));
  }

  /** Moves the processes in; what they start afterwards is counted here too. */
  enter(pids: number[]): void {
    mkdirSync(this.dir, { recursive: true });
    for (const pid of pids) {
      try {
        writeFileSync(join(this.dir, 'cgroup.procs'), `${pid}\n`);
      } catch (err) {
        // Gone since it was listed: nothing of it to count.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  }

  cpuS(): number {
    return cgroupCpuS(this.dir);
  }

  /** Removes the folder and the bench's folders above it, once their processes are gone. Idempotent. */
  remove(levels = 1): void {
    let dir = this.dir;
    for (let i = 0; i < levels && dir.startsWith(`${CPUACCT}/`); i++) {
      try {
        rmdirSync(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          // already gone
        } else if (code === 'EBUSY' || code === 'ENOTEMPTY') return;
        else throw err;
      }
      dir = join(dir, '..');
    }
  }
}

/** One node's CPU while the tasks came up, seconds. */
export interface NodeCpu {
  host: string;
  /** The daemon's own threads (Node: the agent, the store and Raft on a manager, gRPC, DNS...). */
  daemon: number;
  /** Short tools the daemon ran and waited for (ip, mount, runc delete/kill, the DNS binder). */
  tools: number;
  /** The rest of the daemon's folder: the launchers (bash, then the perl supervisor), the log
   * writers, and `runc create` / `runc start` run by the supervisors. */
  launch: number;
  /** The containers' cgroups: runc's init inside the container (namespaces, mounts, seccomp), then the command. */
  containers: number;
}

export interface CpuBreakdownRow {
  what: string;
  seconds: number;
  msPerTask: number;
}

/** Pure: the nodes' figures summed per kind, and per task of the whole service. */
export function cpuBreakdown(nodes: NodeCpu[], tasks: number, manager: string): CpuBreakdownRow[] {
  const sum = (pick: (n: NodeCpu) => number, which: (n: NodeCpu) => boolean = () => true) =>
    nodes.filter(which).reduce((a, n) => a + pick(n), 0);
  const isManager = (n: NodeCpu) => n.host === manager;
  const rows: Array<[string, number]> = [
    ['manager daemon (control plane, and its own tasks as a worker)', sum((n) => n.daemon, isManager)],
    [
      'worker daemons (agent, runtime, DNS, status reports)',
      sum(
        (n) => n.daemon,
        (n) => !isManager(n),
      ),
    ],
    ['tools the daemons ran (ip, mount, runc delete, DNS binder)', sum((n) => n.tools)],
    ['launch: launcher, supervisor, log writers, runc create + start', sum((n) => n.launch)],
    ['containers: runc init (namespaces, mounts, seccomp) + command', sum((n) => n.containers)],
  ];
  const total = rows.reduce((a, [, s]) => a + s, 0);
  return [...rows, ['total', total] as [string, number]].map(([what, seconds]) => ({
    what,
    seconds,
    msPerTask: tasks > 0 ? (seconds * 1000) / tasks : 0,
  }));
}

/** A reading of one node, taken before and after the phase. */
export interface NodeReading {
  daemon: ProcessCpu;
  group: number;
  containers: Map<string, number>;
}

/** Pure: a node's share from two readings (the daemon's folder holds the daemon, its tools and the launchers). */
export function nodeCpu(host: string, a: NodeReading, b: NodeReading): NodeCpu {
  const daemon = b.daemon.self - a.daemon.self;
  const tools = b.daemon.children - a.daemon.children;
  return {
    host,
    daemon,
    tools,
    launch: Math.max(0, b.group - a.group - daemon - tools),
    containers: cgroupsDelta(a.containers, b.containers),
  };
}
