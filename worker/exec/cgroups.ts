// A task's cgroup: memory, CPU and pids limits, the list of its processes, killing them all, and
// whether the OOM killer struck. cgroup v2 when /sys/fs/cgroup is the unified hierarchy, v1 (one
// folder per controller) otherwise. Folders are <hierarchy>/swarmlite/<prefix>/<taskId>, so several
// daemons share a kernel and each cleans up exactly its own.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';

export const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
/** The CFS period, 100 ms as Docker uses; the quota is the CPU limit's share of it. */
export const CFS_PERIOD_US = 100_000;

export interface CgroupLayout {
  version: 1 | 2;
  /** v2: { unified: mount }; v1: controller -> its mount point. */
  mounts: Record<string, string>;
}

export interface CgroupLimits {
  memoryBytes: number;
  nanoCpus: number;
  pidsMax: number;
}

/** Reads /proc/self/mounts (as text) into the layout the runtime uses. */
export function detectLayout(mountsText: string, base = '/sys/fs/cgroup'): CgroupLayout {
  const mounts = mountsText
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length >= 4);
  if (mounts.some((f) => f[2] === 'cgroup2' && f[1] === base))
    return { version: 2, mounts: { unified: base } };
  const found: Record<string, string> = {};
  for (const f of mounts) {
    if (f[2] !== 'cgroup') continue;
    const opts = f[3]!.split(',');
    for (const c of V1_CONTROLLERS) if (opts.includes(c) && !found[c]) found[c] = f[1]!;
  }
  const missing = V1_CONTROLLERS.filter((c) => !found[c]);
  if (missing.length)
    throw new Error(
      `cgroup controllers not mounted: ${missing.join(', ')} (need cgroup v2 at ${base} or v1 memory, cpu, pids)`,
    );
  return { version: 1, mounts: found };
}

/** The files to write in a task's cgroup folder(s), in order; [folder key, file, value]. */
export function limitWrites(version: 1 | 2, limits: CgroupLimits): [string, string, string][] {
  const quota = Math.max(1000, Math.round((limits.nanoCpus * CFS_PERIOD_US) / 1e9));
  if (version === 2) {
    const w: [string, string, string][] = [['unified', 'pids.max', String(limits.pidsMax)]];
    // No swap for a limited task: the limit means what it says, and the OOM verdict is prompt.
    if (limits.memoryBytes)
      w.push(['unified', 'memory.max', String(limits.memoryBytes)], ['unified', 'memory.swap.max', '0']);
    if (limits.nanoCpus) w.push(['unified', 'cpu.max', `${quota} ${CFS_PERIOD_US}`]);
    return w;
  }
  const w: [string, string, string][] = [['pids', 'pids.max', String(limits.pidsMax)]];
  if (limits.memoryBytes)
    w.push(
      ['memory', 'memory.limit_in_bytes', String(limits.memoryBytes)],
      // memory+swap, present only when the kernel accounts swap (the runtime skips it otherwise).
      ['memory', 'memory.memsw.limit_in_bytes', String(limits.memoryBytes)],
    );
  if (limits.nanoCpus)
    w.push(['cpu', 'cpu.cfs_period_us', String(CFS_PERIOD_US)], ['cpu', 'cpu.cfs_quota_us', String(quota)]);
  return w;
}

/** The `oom_kill` counter of memory.oom_control (v1) or memory.events (v2); undefined when absent. */
export function parseOomKills(text: string): number | undefined {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

export class TaskCgroup {
  /** Folder per key: v1 controller names, or 'unified'. */
  readonly dirs: Record<string, string>;

  constructor(
    readonly layout: CgroupLayout,
    prefix: string,
    taskId: string,
  ) {
    this.dirs = Object.fromEntries(
      Object.entries(layout.mounts).map(([key, mount]) => [key, join(mount, 'swarmlite', prefix, taskId)]),
    );
  }

  /** Every cgroup.procs file a task process writes its pid to, to join all of the task's folders. */
  get procsFiles(): string[] {
    return Object.values(this.dirs).map((d) => join(d, 'cgroup.procs'));
  }

  private get mainDir(): string {
    return this.dirs.memory ?? this.dirs.unified!;
  }

  /**
   * Off the event loop (the thread pool): a v1 memory cgroup's mkdir took ~8 ms in the kernel on a
   * busy machine, and 20 tasks preparing at once held a manager's loop for over half a second.
   */
  async create(limits: CgroupLimits): Promise<void> {
    for (const dir of Object.values(this.dirs)) {
      if (this.layout.version === 2) this.enableControllers(dir);
      // Another task's remove() may drop an empty <prefix> folder between our mkdirs: retry once.
      try {
        await mkdir(dir, { recursive: true });
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
        await mkdir(dir, { recursive: true });
      }
    }
    for (const [key, file, value] of limitWrites(this.layout.version, limits)) {
      const path = join(this.dirs[key]!, file);
      if (file === 'memory.memsw.limit_in_bytes' && !existsSync(path)) continue;
      await writeFile(path, value);
    }
  }

  /** v2 only hands a controller to a child folder that its parent enabled in cgroup.subtree_control. */
  private enableControllers(taskDir: string): void {
    const mount = this.layout.mounts.unified!;
    const levels = taskDir
      .slice(mount.length + 1)
      .split('/')
      .slice(0, -1);
    let dir = mount;
    for (const level of ['', ...levels]) {
      if (level) {
        dir = join(dir, level);
        mkdirSync(dir, { recursive: true });
      }
      const enabled = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
      const want = ['memory', 'cpu', 'pids'].filter((c) => !enabled.includes(c));
      if (want.length) writeFileSync(join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
    }
  }

  exists(): boolean {
    return existsSync(this.mainDir);
  }

  /** Pids of the task's processes (empty when the cgroup is gone). */
  pids(): number[] {
    try {
      return readFileSync(join(this.mainDir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** The OOM killer ended a process of this task. */
  oomKilled(): boolean {
    const file = this.layout.version === 2 ? 'memory.events' : 'memory.oom_control';
    try {
      const kills = parseOomKills(readFileSync(join(this.mainDir, file), 'utf8'));
      if (kills !== undefined) return kills > 0;
      // Kernels before 4.13 have no oom_kill counter: a limit that was hit is the best sign left.
      return Number(readFileSync(join(this.mainDir, 'memory.failcnt'), 'utf8')) > 0;
    } catch {
      return false;
    }
  }

  /** SIGKILLs every process until none is left (or timeoutMs passes); returns whether it is empty. */
  async killAll(timeoutMs = 5000): Promise<boolean> {
    const killFile = this.dirs.unified && join(this.dirs.unified, 'cgroup.kill');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = this.pids();
      if (pids.length === 0) return true;
      if (Date.now() > deadline) return false;
      if (killFile && existsSync(killFile)) writeFileSync(killFile, '1');
      else
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Removes the task's folders (and the prefix/swarmlite folders once empty). */
  async remove(): Promise<void> {
    for (const dir of Object.values(this.dirs)) {
      // A cgroup stays busy for a moment after its last process died.
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          if (errno(err) === 'ENOENT') break;
          if (errno(err) !== 'EBUSY' || attempt >= 50)
            throw new Error(`cannot remove cgroup ${dir}: ${String(err)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      for (const parent of [join(dir, '..'), join(dir, '..', '..')]) {
        try {
          rmdirSync(parent);
        } catch {
          break; // still holds another task's (or daemon's) folders
        }
      }
    }
  }
}

/**
 * Removes the `swarmlite/<prefix>` folders once no task folder is left in them (rmdir refuses a folder
 * that still has children, so another daemon's or a live task's cgroup is never touched).
 */
export function removePrefixFolders(layout: CgroupLayout, prefix: string): void {
  for (const mount of Object.values(layout.mounts)) {
    const dir = join(mount, 'swarmlite', prefix);
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      // ENOTEMPTY/EBUSY: something of this prefix is still there; it stays, and so does its folder.
    }
  }
}
