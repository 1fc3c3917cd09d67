// From a task's spec to exactly what the runtime will run: argv, environment, user, working
// folder, hostname, limits, and the entry script that applies them. Pure (the caller passes the
// passwd/group text and a file probe), so every rule and every error message is unit-tested; all
// bad input is refused here, at prepare, before anything is created.
import { isAbsolute, posix } from 'node:path';
import type { TaskLaunch } from '../agent/executor.js';
import { resolveUser, type ResolvedUser } from './users.js';

import { BUILTIN_IMAGE } from '../../api/task-templates.js';

export { BUILTIN_IMAGE };
/** Docker's default PATH for containers. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker refuses memory limits under 6 MiB: nothing useful runs in less. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** Docker's smallest CPU limit, 0.01 CPU. */
export const MIN_NANO_CPUS = 10_000_000;

export interface TaskPlan {
  taskId: string;
  hostname: string;
  argv: string[];
  /** KEY=VALUE, in the order the task sees them. */
  env: string[];
  workdir: string;
  /** Absent: the command runs as root with root's groups, as the daemon does. */
  user?: ResolvedUser;
  limits: { memoryBytes: number; nanoCpus: number; pidsMax: number };
}

export interface PlanContext {
  nodeHostname: string;
  /** Leads the task's PATH, so `swarmlite` in a task is the daemon's own. */
  swarmliteBinDir: string;
  pidsMax: number;
  passwd: string;
  group: string;
  /** Whether a path names an executable file on the host (for the `host` image). */
  isExecutable(path: string): boolean;
  isDirectory(path: string): boolean;
}

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ENV_KEY = /^[^=\0]+$/;

export function validateTaskId(taskId: string): void {
  if (!TASK_ID.test(taskId)) throw new Error(`invalid task id "${taskId}": use letters, digits, '-' and '_'`);
}

/** Below the task's private /tmp the host's files are hidden, so they cannot be checked from here. */
const inPrivateTmp = (path: string) => path === '/tmp' || path.startsWith('/tmp/');

export function planTask(launch: TaskLaunch, ctx: PlanContext): TaskPlan {
  const { taskId, spec } = launch;
  validateTaskId(taskId);
  if (spec.image !== BUILTIN_IMAGE)
    throw new Error(
      `unknown image "${spec.image}": only the built-in image "${BUILTIN_IMAGE}" is available (OCI images are not supported yet)`,
    );
  const argv = [...spec.command, ...spec.args];
  if (argv.length === 0)
    throw new Error(
      `no command: image "${BUILTIN_IMAGE}" has no default command, give one (e.g. "host sleep 60")`,
    );
  if (argv[0] === '' || argv[0]!.includes('='))
    throw new Error(`invalid command "${argv[0]}": a command name must be non-empty and cannot contain '='`);
  if (argv.some((a) => a.includes('\0')))
    throw new Error('invalid command: arguments cannot contain NUL bytes');

  const hostname = spec.hostname || taskId.slice(0, 12);
  if (hostname.length > 64 || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(hostname))
    throw new Error(`invalid hostname "${hostname}": use at most 64 letters, digits, '.', '-' and '_'`);

  const userEnv = new Map<string, string>();
  for (const entry of spec.env) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || !ENV_KEY.test(entry.slice(0, eq)))
      throw new Error(`invalid environment variable "${entry}": use KEY=VALUE`);
    userEnv.set(entry.slice(0, eq), entry);
  }

  const user = spec.user.trim() === '' ? undefined : resolveUser(spec.user, ctx.passwd, ctx.group);
  const home = user?.home ?? resolveUser('', ctx.passwd, ctx.group).home;

  const workdir = spec.workdir || '/';
  if (!isAbsolute(workdir)) throw new Error(`invalid workdir "${workdir}": it must be an absolute path`);
  if (!inPrivateTmp(workdir) && !ctx.isDirectory(workdir))
    throw new Error(
      `workdir "${workdir}" does not exist on this node (image "${BUILTIN_IMAGE}" is the host's files)`,
    );

  const userPath = userEnv.get('PATH')?.slice('PATH='.length) ?? DEFAULT_PATH;
  const path =
    userPath.split(':')[0] === ctx.swarmliteBinDir ? userPath : `${ctx.swarmliteBinDir}:${userPath}`;
  // Docker's order: PATH, HOSTNAME, the spec's variables, HOME; ours adds the task's identity for
  // `swarmlite whoami`. The spec's own values win over every default.
  const env = new Map<string, string>([
    ['PATH', `PATH=${path}`],
    ['HOSTNAME', `HOSTNAME=${hostname}`],
    ['SWARMLITE_TASK_NAME', `SWARMLITE_TASK_NAME=${launch.name}`],
    ['SWARMLITE_TASK_ID', `SWARMLITE_TASK_ID=${taskId}`],
    ['SWARMLITE_SERVICE_NAME', `SWARMLITE_SERVICE_NAME=${launch.serviceName}`],
    ['SWARMLITE_NODE_HOSTNAME', `SWARMLITE_NODE_HOSTNAME=${ctx.nodeHostname}`],
  ]);
  for (const [key, entry] of userEnv) if (key !== 'PATH') env.set(key, entry);
  if (!env.has('HOME')) env.set('HOME', `HOME=${home}`);
  const bad = [...env.values()].find((e) => e.includes('\0'));
  if (bad)
    throw new Error(
      `invalid environment variable "${bad.slice(0, bad.indexOf('='))}": values cannot contain NUL bytes`,
    );

  checkExecutable(argv[0]!, path, workdir, ctx);

  const { memoryBytes, nanoCpus } = spec.resources.limits;
  if (memoryBytes !== 0 && (!Number.isSafeInteger(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES))
    throw new Error(`invalid memory limit ${memoryBytes}: the minimum is 6MiB`);
  if (nanoCpus !== 0 && (!Number.isSafeInteger(nanoCpus) || nanoCpus < MIN_NANO_CPUS))
    throw new Error(`invalid CPU limit ${nanoCpus / 1e9}: the minimum is 0.01`);

  return {
    taskId,
    hostname,
    argv,
    env: [...env.values()],
    workdir,
    ...(user ? { user } : {}),
    limits: { memoryBytes, nanoCpus, pidsMax: ctx.pidsMax },
  };
}

/** As execvp would find it, so a typo fails the task at once with Docker's message. */
function checkExecutable(command: string, path: string, workdir: string, ctx: PlanContext): void {
  if (command.includes('/')) {
    const full = posix.resolve(workdir, command);
    if (inPrivateTmp(full) || ctx.isExecutable(full)) return;
    throw new Error(`exec: "${command}": no such executable file`);
  }
  for (const dir of path.split(':')) {
    const full = posix.resolve(workdir, dir || '.', command);
    if (inPrivateTmp(full) || ctx.isExecutable(full)) return;
  }
  throw new Error(`exec: "${command}": executable file not found in $PATH`);
}

/** One argument for sh, single-quoted: every byte but NUL stands for itself. */
export function shQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export interface EntryTools {
  env: string;
  setpriv: string;
}

/**
 * The task's entry script, run by `sh` from fd 9 with the command as "$@", for the main process
 * and for every `exec`. The variables travel inside this root-only file rather than on a command
 * line, where every user of the node could read them for the task's whole life.
 * `env -i` clears what the shells before it added; `--default-signal` undoes the SIGINT/SIGQUIT
 * ignoring that sh applies to background jobs; setpriv switches user only when one is set.
 */
export function renderEntryScript(plan: TaskPlan, tools: EntryTools): string {
  const lines = [`# swarmlite task ${plan.taskId}: environment, working folder and user of its processes`];
  if (inPrivateTmp(plan.workdir)) lines.push(`mkdir -p -- ${shQuote(plan.workdir)} || exit 126`);
  lines.push(`cd -- ${shQuote(plan.workdir)} || exit 126`);
  const cmd = [shQuote(tools.env), '-i', '--default-signal', '--', ...plan.env.map(shQuote)];
  if (plan.user) {
    const { uid, gid, groups } = plan.user;
    cmd.push(shQuote(tools.setpriv), `--reuid=${uid}`, `--regid=${gid}`);
    cmd.push(groups.length ? `--groups=${groups.join(',')}` : '--clear-groups', '--');
  }
  lines.push(`exec ${cmd.join(' ')} "$@" 9<&-`);
  return lines.join('\n') + '\n';
}
