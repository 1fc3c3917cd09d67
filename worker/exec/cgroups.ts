// A task's cgroup as the OCI runtime makes it (linux.cgroupsPath = /swarmlite/<prefix>/<taskId> in
// every hierarchy; the runtime writes the limits): the list of its processes, killing them all,
// whether the OOM killer struck, and removing what is left. cgroup v2 when /sys/fs/cgroup is the
// unified hierarchy, v1 (one folder per controller, and a hybrid unified one) otherwise. Every
// daemon's folders carry its prefix, so several daemons share a kernel and each cleans up its own.
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

export interface CgroupLayout {
  version: 1 | 2;
  /** v2: { unified: mount }; v1: controller -> its mount point. */
  mounts: Record<string, string>;
  /** v1: every other cgroup hierarchy (cpuset, devices, name=systemd, a hybrid unified...). */
  others: string[];
}

/** The cgroupsPath of a task's container, relative to each hierarchy's root. */
export function cgroupsPath(prefix: string, taskId: string): string {
  return `/swarmlite/${prefix}/${taskId}`;
}

/** Reads /proc/self/mounts (as text) into the layout the runtime uses. */
export function detectLayout(mountsText: string, base = '/sys/fs/cgroup'): CgroupLayout {
  const mounts = mountsText
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length >= 4);
  if (mounts.some((f) => f[2] === 'cgroup2' && f[1] === base))
    return { version: 2, mounts: { unified: base }, others: [] };
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
  const used = new Set(Object.values(found));
  const others = mounts
    .filter(
      (f) => (f[2] === 'cgroup' || f[2] === 'cgroup2') && f[1]!.startsWith(`${base}/`) && !used.has(f[1]!),
    )
    .map((f) => f[1]!);
  return { version: 1, mounts: found, others: [...new Set(others)] };
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
    const all = [...Object.entries(layout.mounts), ...layout.others.map((m) => [m, m] as const)];
    this.dirs = Object.fromEntries(
      all.map(([key, mount]) => [key, join(mount, cgroupsPath(prefix, taskId))]),
    );
  }

  private get mainDir(): string {
    return this.dirs.memory ?? this.dirs.unified!;
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
  for (const mount of [...Object.values(layout.mounts), ...layout.others]) {
    const dir = join(mount, 'swarmlite', prefix);
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      // ENOTEMPTY/EBUSY: something of this prefix is still there; it stays, and so does its folder.
    }
  }
}
