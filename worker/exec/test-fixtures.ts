// Shared pieces of the runtime's integration tests: a runtime with its own prefix and root that
// is cleaned up after the test whatever happens, task specs for the `host` image, and a census of
// everything a prefix can leave on the machine (netns, cgroup folders, mounts, processes).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLine, LogOptions, TaskLaunch } from '../agent/executor.js';
import type { TaskSpec } from '../../api/objects/index.js';
import { findTool } from '../../lib/exec.js';
import { newId } from '../../lib/ids.js';
import { TaskRuntime, type TaskRuntimeOptions } from './runtime.js';
import type { ImageSource } from './task-bundle.js';
import type { ImageDefaults } from './task-plan.js';

export interface TestContextLike {
  after(fn: () => unknown): void;
}

export function testRuntime(t: TestContextLike, opts: Partial<TaskRuntimeOptions> = {}) {
  const prefix = `tx${Math.random().toString(36).slice(2, 8)}`;
  const root = mkdtempSync(join(tmpdir(), `swl-${prefix}-`));
  const make = () =>
    new TaskRuntime({
      root,
      prefix,
      nodeHostname: 'testnode',
      swarmliteBinDir: '/opt/swl-test/bin',
      pollMs: 20,
      ...opts,
    });
  const rt = make();
  t.after(async () => {
    for (const r of await rt.list().catch(() => [])) await rt.remove(r.taskId).catch(() => undefined);
    for (const ns of netnsWithPrefix(prefix)) execFileSync(findTool('ip'), ['netns', 'del', ns]);
    rmSync(root, { recursive: true, force: true });
  });
  return { rt, prefix, root, make };
}

/**
 * A one-layer image named `busybox`: busybox-static with every applet linked, and a passwd with
 * `nobody`; its config is `sh` as the cmd unless `config` says otherwise.
 */
export function busyboxImage(t: TestContextLike, config: Partial<ImageDefaults> = {}): ImageSource {
  const dir = mkdtempSync(join(tmpdir(), 'swl-isolation-layer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'etc'));
  mkdirSync(join(dir, 'tmp'));
  chmodSync(join(dir, 'tmp'), 0o1777);
  const busybox = findTool('busybox');
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean))
    if (applet !== 'busybox') symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  // Executable by its mode, not by its content: only the kernel's exec can tell.
  writeFileSync(join(dir, 'bin', 'garbage'), 'not a program\n', { mode: 0o755 });
  return {
    resolve: async (ref) => {
      if (ref !== 'busybox') throw new Error(`No such image: ${ref}`);
      return {
        lowerDirs: [dir],
        config: { entrypoint: [], cmd: ['sh'], env: ['PATH=/bin'], workdir: '', user: '', ...config },
      };
    },
  };
}

export function hostSpec(argv: string[], over: Partial<TaskSpec> = {}): TaskSpec {
  return {
    image: 'host',
    command: argv.slice(0, 1),
    args: argv.slice(1),
    env: [],
    workdir: '',
    user: '',
    hostname: '',
    dns: { nameservers: [], search: [], options: [] },
    resources: { limits: { memoryBytes: 0, nanoCpus: 0 }, reservations: { memoryBytes: 0, nanoCpus: 0 } },
    restartPolicy: { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 },
    placement: { constraints: [] },
    networks: [],
    stopGracePeriodMs: 10_000,
    ...over,
  } as TaskSpec;
}

export function launchOf(spec: TaskSpec, taskId = newId()): TaskLaunch {
  return { taskId, name: `svc.1.${taskId}`, serviceId: 'svcid', serviceName: 'svc', slot: 1, spec };
}

/** Prepares and starts a task; returns its id and init pid. */
export async function runTask(rt: TaskRuntime, spec: TaskSpec): Promise<{ id: string; pid: number }> {
  const launch = launchOf(spec);
  await rt.prepare(launch);
  const { pid } = await rt.start(launch.taskId);
  return { id: launch.taskId, pid };
}

export async function collectLogs(
  rt: TaskRuntime,
  id: string,
  opts: Partial<LogOptions> = {},
): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of rt.logs(id, { follow: false, ...opts })) out.push(l);
  return out;
}

function netnsWithPrefix(prefix: string): string[] {
  return readdirSync('/run/netns', { withFileTypes: true })
    .map((d) => d.name)
    .filter((n) => n.startsWith(prefix));
}

/** Everything the prefix still holds on this machine, as readable strings; [] when clean. */
export function leftovers(prefix: string, root: string, pids: number[] = []): string[] {
  const found = netnsWithPrefix(prefix).map((n) => `netns ${n}`);
  for (const ctrl of ['memory', 'cpu', 'pids', 'unified', '']) {
    const dir = join('/sys/fs/cgroup', ctrl, 'swarmlite', prefix);
    if (existsSync(dir)) found.push(`cgroup ${dir}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
    if (line.includes(prefix)) found.push(`mount ${line}`);
  for (const name of existsSync(root) ? readdirSync(root) : [])
    if (!name.startsWith('.shim-') && name !== '.runc' && name !== '.spawn')
      found.push(`state ${join(root, name)}`);
  // The spawner's output files: each is removed once its command's result is read.
  const spawn = join(root, '.spawn');
  for (const name of existsSync(spawn) ? readdirSync(spawn) : [])
    found.push(`spawner output ${join(spawn, name)}`);
  // The OCI runtime's state of each container.
  const runc = join(root, '.runc');
  for (const name of existsSync(runc) ? readdirSync(runc) : []) found.push(`oci ${join(runc, name)}`);
  for (const pid of pids) {
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    if (stat && !/^\d+ \(.*\) Z/.test(stat)) found.push(`process ${pid}: ${stat.slice(0, 60)}`);
  }
  return found;
}

/** The namespace inode a process is in, e.g. nsInode(pid, 'net') -> 'net:[4026532177]'. */
export function nsInode(pid: number | 'self', ns: string): string {
  return readlinkSync(`/proc/${pid}/ns/${ns}`);
}
