// Docker's container flags of `service create` and `service update`: --entrypoint, --cap-add/--cap-drop,
// --read-only, --init, --security-opt, --mount (--mount-add/--mount-rm), --stop-signal. Parsed as
// Docker parses them; every bad value is a usage error (exit 2) naming the flag, so nothing reaches
// the daemon half-checked. The control API checks the same rules again (api/container-options.ts).
import type { Command } from 'commander';
import { UserError } from '../lib/errors.js';
import type { Mount } from '../api/objects/index.js';
import { checkMount, mountTarget, normalizeCapability, normalizeSignal } from '../api/container-options.js';
import { collect, parseBytes, splitWords } from './service-flags.js';
import type { TaskDraft } from './objects.js';

const usage = (message: string) => new UserError(message, 2);

/** Flags `create` and `update` share. */
export interface ContainerFlags {
  entrypoint?: string;
  capAdd?: string[];
  capDrop?: string[];
  readOnly?: boolean;
  init?: boolean;
  securityOpt?: string[];
  stopSignal?: string;
}

export interface ContainerCreateFlags extends ContainerFlags {
  mount?: string[];
}

export interface ContainerUpdateFlags extends ContainerFlags {
  mountAdd?: string[];
  mountRm?: string[];
}

/** The flags on a command; `update` gets --mount-add/--mount-rm instead of --mount. */
export function addContainerOptions(cmd: Command, verb: 'create' | 'update'): Command {
  cmd
    .option('--entrypoint <command>', "replace the image's entrypoint (one string, split like a shell)")
    .option('--cap-add <capability>', 'add a Linux capability, e.g. NET_ADMIN or ALL (repeatable)', collect)
    .option('--cap-drop <capability>', 'drop a Linux capability, e.g. CHOWN or ALL (repeatable)', collect)
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--no-read-only', 'a writable root filesystem (the default)')
    .option('--init', 'run an init as PID 1 that forwards signals and reaps processes')
    .option('--no-init', 'no init: the command is PID 1')
    .option(
      '--security-opt <option>',
      'no-new-privileges[=true|false], seccomp=unconfined or seccomp=builtin (repeatable)',
      collect,
    )
    .option('--stop-signal <signal>', "signal that stops a task (default: the image's, else SIGTERM)");
  const mountHelp = 'type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=][,tmpfs-mode=]';
  if (verb === 'create')
    return cmd.option('--mount <mount>', `attach a mount: ${mountHelp} (repeatable)`, collect);
  return cmd
    .option('--mount-add <mount>', `add or replace (by target) a mount: ${mountHelp} (repeatable)`, collect)
    .option('--mount-rm <target>', 'remove a mount by its target path (repeatable)', collect);
}

/** Go's strconv.ParseBool, which Docker's boolean fields use. */
function parseBool(flag: string, spec: string, text: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw usage(`invalid ${flag} '${spec}': '${text}' is not true or false`);
}

/** Fields Docker's --mount has that swarmlite does not implement: named, not called unknown. */
const UNSUPPORTED_MOUNT_KEYS = new Set([
  'volume-driver',
  'volume-label',
  'volume-opt',
  'volume-nocopy',
  'volume-subpath',
  'bind-propagation',
  'bind-nonrecursive',
  'bind-recursive',
  'consistency',
  'image-subpath',
  'tmpfs-options',
]);

/**
 * `--mount type=bind,source=/srv,target=/data,readonly` as Docker reads it: `src`, `dst` and
 * `destination` as aliases, `ro`, `readonly` alone or `=true|false`, the type `volume` by default,
 * `tmpfs-size` in bytes or with a unit (64m), `tmpfs-mode` in octal.
 */
export function parseMount(value: string, flag = '--mount'): Mount {
  const m: Mount = {
    type: 'volume',
    source: '',
    target: '',
    readonly: false,
    tmpfsSizeBytes: 0,
    tmpfsMode: 0,
  };
  for (const field of value.split(',')) {
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const v = i < 0 ? undefined : field.slice(i + 1).trim();
    if (key === 'readonly' || key === 'ro') m.readonly = v === undefined ? true : parseBool(flag, value, v);
    else if (v === undefined)
      throw usage(`invalid ${flag} '${value}': field '${field}' must be a key=value pair`);
    else if (key === 'type') {
      if (v !== 'bind' && v !== 'volume' && v !== 'tmpfs')
        throw usage(`invalid ${flag} '${value}': type must be bind, volume or tmpfs`);
      m.type = v;
    } else if (key === 'source' || key === 'src') m.source = v;
    else if (key === 'target' || key === 'dst' || key === 'destination') m.target = v;
    else if (key === 'tmpfs-size') m.tmpfsSizeBytes = parseBytes(flag, v);
    else if (key === 'tmpfs-mode') {
      if (!/^[0-7]{1,4}$/.test(v))
        throw usage(`invalid ${flag} '${value}': tmpfs-mode must be octal, like 1777`);
      m.tmpfsMode = parseInt(v, 8);
    } else if (UNSUPPORTED_MOUNT_KEYS.has(key))
      throw usage(`invalid ${flag} '${value}': ${key} is not supported by swarmlite`);
    else throw usage(`invalid ${flag} '${value}': unknown field '${key}'`);
  }
  if (!m.target) throw usage(`invalid ${flag} '${value}': target= is required`);
  const problem = checkMount(m);
  if (problem) throw usage(`invalid ${flag} '${value}': ${problem}`);
  return m;
}

interface SecurityOptions {
  noNewPrivileges?: boolean;
  /** builtin: Docker's default profile. */
  seccomp?: 'unconfined' | 'builtin';
}

/**
 * `--security-opt`: `no-new-privileges` (alone, `=true|false` or the older `:true|false`) and
 * `seccomp=unconfined|builtin`. Custom seccomp profiles, AppArmor and SELinux labels are refused.
 */
export function parseSecurityOpts(values: string[]): SecurityOptions {
  const out: SecurityOptions = {};
  for (const value of values) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(value.trim());
    const [key, v] = m ? [m[1]!, m[2]] : ['', undefined];
    if (key === 'no-new-privileges')
      out.noNewPrivileges = v === undefined ? true : parseBool('--security-opt', value, v);
    else if (key === 'seccomp' && (v === 'unconfined' || v === 'builtin')) out.seccomp = v;
    else if (key === 'seccomp')
      throw usage(
        `invalid --security-opt '${value}': custom seccomp profiles are not supported; use seccomp=unconfined or seccomp=builtin (Docker's default profile)`,
      );
    else
      throw usage(
        `invalid --security-opt '${value}': swarmlite supports no-new-privileges[=true|false] and seccomp=unconfined|builtin`,
      );
  }
  return out;
}

/** A capability as Docker's CLI writes it (CAP_NET_ADMIN, ALL); RESET only where update takes it. */
function capabilities(flag: string, values: string[], reset: boolean): string[] {
  return values.map((name) => {
    if (reset && name.trim().toUpperCase() === 'RESET') return 'RESET';
    const cap = normalizeCapability(name);
    if (!cap)
      throw usage(
        `invalid ${flag} '${name}': no such Linux capability (e.g. NET_ADMIN, CAP_SYS_TIME or ALL)`,
      );
    return cap;
  });
}

/**
 * Docker's effective lists: ALL stands alone on its side, a capability both added and dropped is
 * added, each once, sorted.
 */
export function effectiveCapAddDrop(add: Iterable<string>, drop: Iterable<string>): [string[], string[]] {
  let a = new Set(add);
  let d = new Set(drop);
  if (a.has('ALL')) a = new Set(['ALL']);
  if (d.has('ALL')) d = new Set(['ALL']);
  for (const c of a) d.delete(c);
  return [[...a].sort(), [...d].sort()];
}

/** The flags both verbs share, on a copy of the task. */
function applyShared(task: TaskDraft, o: ContainerFlags): TaskDraft {
  const t = { ...task };
  if (o.entrypoint !== undefined) t.command = splitWords('--entrypoint', o.entrypoint);
  if (o.readOnly !== undefined) t.readOnly = o.readOnly;
  if (o.init !== undefined) t.init = o.init;
  if (o.securityOpt) {
    const sec = parseSecurityOpts(o.securityOpt);
    if (sec.noNewPrivileges !== undefined) t.noNewPrivileges = sec.noNewPrivileges;
    if (sec.seccomp === 'unconfined') t.seccomp = 'unconfined';
    else if (sec.seccomp === 'builtin') delete t.seccomp;
  }
  if (o.stopSignal !== undefined) {
    const signal = normalizeSignal(o.stopSignal);
    if (!signal)
      throw usage(
        `invalid --stop-signal '${o.stopSignal}': use a signal name such as SIGTERM, SIGINT or SIGUSR1`,
      );
    t.stopSignal = signal;
  }
  return t;
}

/** `service create`: the container flags on the task of Docker's defaults. */
export function applyContainerCreate(task: TaskDraft, o: ContainerCreateFlags): TaskDraft {
  const t = applyShared(task, o);
  if (o.capAdd || o.capDrop) {
    const [add, drop] = effectiveCapAddDrop(
      capabilities('--cap-add', o.capAdd ?? [], false),
      capabilities('--cap-drop', o.capDrop ?? [], false),
    );
    if (add.length) t.capAdd = add;
    if (drop.length) t.capDrop = drop;
  }
  if (o.mount) {
    t.mounts = o.mount.map((m) => parseMount(m));
    checkTargetsOnce('--mount', t.mounts);
  }
  return t;
}

function checkTargetsOnce(flag: string, mounts: { target: string }[]): void {
  const seen = new Set<string>();
  for (const m of mounts) {
    const target = mountTarget(m.target);
    const path = 'path' in target ? target.path : m.target;
    if (seen.has(path)) throw usage(`invalid ${flag}: duplicate mount point "${path}"`);
    seen.add(path);
  }
}

/**
 * `service update`: `--cap-add X` adds X and takes it off the drop list, `--cap-drop X` the reverse
 * (an X in both flags is added), `RESET` empties that side first; then Docker's effective lists.
 */
function updateCapabilities(t: TaskDraft, addFlag: string[] = [], dropFlag: string[] = []): void {
  const toAdd = new Set(capabilities('--cap-add', addFlag, true));
  const toDrop = new Set(capabilities('--cap-drop', dropFlag, true));
  const add = new Set(toAdd.delete('RESET') ? [] : (t.capAdd ?? []));
  const drop = new Set(toDrop.delete('RESET') ? [] : (t.capDrop ?? []));
  for (const c of toDrop)
    if (!toAdd.has(c)) {
      add.delete(c);
      drop.add(c);
    }
  for (const c of toAdd) {
    drop.delete(c);
    add.add(c);
  }
  [t.capAdd, t.capDrop] = effectiveCapAddDrop(add, drop);
}

/** `service update`: the container flags on the spec read back; mount removals first, then additions. */
export function applyContainerUpdate(task: TaskDraft, o: ContainerUpdateFlags): TaskDraft {
  const t = applyShared(task, o);
  if (o.capAdd || o.capDrop) updateCapabilities(t, o.capAdd, o.capDrop);
  if (o.mountAdd || o.mountRm) {
    const added = (o.mountAdd ?? []).map((m) => parseMount(m, '--mount-add'));
    checkTargetsOnce('--mount-add', added);
    const path = (target: string) => {
      const p = mountTarget(target);
      return 'path' in p ? p.path : target;
    };
    const dropped = new Set([...(o.mountRm ?? []), ...added.map((m) => m.target)].map(path));
    t.mounts = [...(t.mounts ?? []).filter((m) => !dropped.has(path(m.target))), ...added];
  }
  return t;
}
