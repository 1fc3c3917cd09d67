// From a task's spec and its image's config to exactly what the container will run: argv,
// environment, user, working folder, hostname, limits. Pure (the caller passes the root filesystem's
// passwd/group text and file probes), so every rule and every error message is unit-tested; all bad
// input is refused here, at prepare, before the container is made.
import { isAbsolute, posix } from 'node:path';
import type { TaskLaunch } from '../agent/executor.js';
import { resolveUser, type ResolvedUser } from './users.js';
import { normalizeSignal } from '../../api/container-options.js';

import { BUILTIN_IMAGE } from '../../api/task-templates.js';

export { BUILTIN_IMAGE };
/** Docker's default PATH for containers. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker refuses memory limits under 6 MiB: nothing useful runs in less. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** Docker's smallest CPU limit, 0.01 CPU. */
const MIN_NANO_CPUS = 10_000_000;

/** What an image brings to a task (Docker's image config): defaults the task's spec may override. */
export interface ImageDefaults {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workdir: string;
  user: string;
  /** The image's STOPSIGNAL ('' or absent: SIGTERM). */
  stopSignal?: string;
}

export const HOST_IMAGE_DEFAULTS: ImageDefaults = { entrypoint: [], cmd: [], env: [], workdir: '', user: '' };

export interface TaskPlan {
  taskId: string;
  image: string;
  hostname: string;
  argv: string[];
  /** KEY=VALUE, in the order the task sees them. */
  env: string[];
  workdir: string;
  /** Absent: the command runs as root with root's groups. */
  user?: ResolvedUser;
  limits: { memoryBytes: number; nanoCpus: number; pidsMax: number };
  /** What stop() sends first (the spec's, else the image's, else SIGTERM); absent in older records. */
  stopSignal?: NodeJS.Signals;
}

export interface PlanContext {
  nodeHostname: string;
  /** The `host` image only: leads the task's PATH, so `swarmlite` in a task is the daemon's own. */
  swarmliteBinDir?: string;
  pidsMax: number;
  image: ImageDefaults;
  /** The root filesystem's /etc/passwd and /etc/group ('' when it has none). */
  passwd: string;
  group: string;
  /** Whether a path names an executable file in the task's root filesystem. */
  isExecutable(path: string): boolean;
  isDirectory(path: string): boolean;
}

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ENV_KEY = /^[^=\0]+$/;

export function validateTaskId(taskId: string): void {
  if (!TASK_ID.test(taskId)) throw new Error(`invalid task id "${taskId}": use letters, digits, '-' and '_'`);
}

/** Below the host image's private /tmp the host's files are hidden, so they cannot be checked from here. */
const inPrivateTmp = (image: string, path: string) =>
  image === BUILTIN_IMAGE && (path === '/tmp' || path.startsWith('/tmp/'));

function parseEnv(entries: string[], what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || !ENV_KEY.test(entry.slice(0, eq)))
      throw new Error(`invalid ${what}environment variable "${entry}": use KEY=VALUE`);
    out.set(entry.slice(0, eq), entry);
  }
  return out;
}

export function planTask(launch: TaskLaunch, ctx: PlanContext): TaskPlan {
  const { taskId, spec } = launch;
  validateTaskId(taskId);
  const image = ctx.image;
  // Docker's rule: a command given replaces the entrypoint (as --entrypoint does, the cmd with it);
  // otherwise the entrypoint runs with the given args, or with the image's cmd when none is given.
  const argv = spec.command.length
    ? [...spec.command, ...spec.args]
    : [...image.entrypoint, ...(spec.args.length ? spec.args : image.cmd)];
  if (argv.length === 0)
    throw new Error(
      spec.image === BUILTIN_IMAGE
        ? `no command: image "${BUILTIN_IMAGE}" has no default command, give one (e.g. "host sleep 60")`
        : `no command: image "${spec.image}" has no entrypoint or cmd, give one`,
    );
  if (argv[0] === '' || argv[0]!.includes('='))
    throw new Error(`invalid command "${argv[0]}": a command name must be non-empty and cannot contain '='`);
  if (argv.some((a) => a.includes('\0')))
    throw new Error('invalid command: arguments cannot contain NUL bytes');

  const hostname = spec.hostname || taskId.slice(0, 12);
  if (hostname.length > 64 || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(hostname))
    throw new Error(`invalid hostname "${hostname}": use at most 64 letters, digits, '.', '-' and '_'`);

  const imageEnv = parseEnv(image.env, 'image ');
  const userEnv = parseEnv(spec.env, '');

  const userSpec = spec.user.trim() || image.user.trim();
  const user = userSpec === '' ? undefined : resolveUser(userSpec, ctx.passwd, ctx.group);
  const home = user?.home ?? resolveUser('', ctx.passwd, ctx.group).home;

  const workdir = spec.workdir || image.workdir || '/';
  if (!isAbsolute(workdir)) throw new Error(`invalid workdir "${workdir}": it must be an absolute path`);
  // An image's workdir that is missing is made by the runtime, as Docker does; the host's is not.
  if (spec.image === BUILTIN_IMAGE && !inPrivateTmp(spec.image, workdir) && !ctx.isDirectory(workdir))
    throw new Error(
      `workdir "${workdir}" does not exist on this node (image "${BUILTIN_IMAGE}" is the host's files)`,
    );

  const basePath = (userEnv.get('PATH') ?? imageEnv.get('PATH'))?.slice('PATH='.length) ?? DEFAULT_PATH;
  const bin = ctx.swarmliteBinDir;
  const path = !bin || basePath.split(':')[0] === bin ? basePath : `${bin}:${basePath}`;
  // Docker's order: PATH, HOSTNAME, the image's then the spec's variables, HOME; ours adds the
  // task's identity for `swarmlite whoami`. The spec's own values win over every default.
  const env = new Map<string, string>([
    ['PATH', `PATH=${path}`],
    ['HOSTNAME', `HOSTNAME=${hostname}`],
    ['SWARMLITE_TASK_NAME', `SWARMLITE_TASK_NAME=${launch.name}`],
    ['SWARMLITE_TASK_ID', `SWARMLITE_TASK_ID=${taskId}`],
    ['SWARMLITE_SERVICE_NAME', `SWARMLITE_SERVICE_NAME=${launch.serviceName}`],
    ['SWARMLITE_NODE_HOSTNAME', `SWARMLITE_NODE_HOSTNAME=${ctx.nodeHostname}`],
  ]);
  for (const [key, entry] of [...imageEnv, ...userEnv]) if (key !== 'PATH') env.set(key, entry);
  if (!env.has('HOME')) env.set('HOME', `HOME=${home}`);
  const bad = [...env.values()].find((e) => e.includes('\0'));
  if (bad)
    throw new Error(
      `invalid environment variable "${bad.slice(0, bad.indexOf('='))}": values cannot contain NUL bytes`,
    );

  checkExecutable(argv[0]!, path, workdir, spec.image, ctx);

  const { memoryBytes, nanoCpus } = spec.resources.limits;
  if (memoryBytes !== 0 && (!Number.isSafeInteger(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES))
    throw new Error(`invalid memory limit ${memoryBytes}: the minimum is 6MiB`);
  if (nanoCpus !== 0 && (!Number.isSafeInteger(nanoCpus) || nanoCpus < MIN_NANO_CPUS))
    throw new Error(`invalid CPU limit ${nanoCpus / 1e9}: the minimum is 0.01`);

  const stopSignalText = spec.stopSignal || image.stopSignal || 'SIGTERM';
  const stopSignal = normalizeSignal(stopSignalText);
  if (!stopSignal)
    throw new Error(
      `invalid stop signal "${stopSignalText}"${spec.stopSignal ? '' : ` in image "${spec.image}"`}: use a signal name such as SIGTERM`,
    );

  return {
    taskId,
    image: spec.image,
    hostname,
    argv,
    env: [...env.values()],
    workdir,
    ...(user ? { user } : {}),
    limits: { memoryBytes, nanoCpus, pidsMax: ctx.pidsMax },
    stopSignal,
  };
}

/** As execvp would find it, so a typo fails the task at once with Docker's message. */
function checkExecutable(
  command: string,
  path: string,
  workdir: string,
  image: string,
  ctx: PlanContext,
): void {
  if (command.includes('/')) {
    const full = posix.resolve(workdir, command);
    if (inPrivateTmp(image, full) || ctx.isExecutable(full)) return;
    throw new Error(`exec: "${command}": no such executable file`);
  }
  for (const dir of path.split(':')) {
    const full = posix.resolve(workdir, dir || '.', command);
    if (inPrivateTmp(image, full) || ctx.isExecutable(full)) return;
  }
  throw new Error(`exec: "${command}": executable file not found in $PATH`);
}
