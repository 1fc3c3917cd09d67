// What prepare builds in a task's folder, which is the container's OCI bundle: the root filesystem
// (an overlay of the image's layers, or of the host's root for the built-in `host` image), the plan
// (task-plan.ts) checked against that root, the per-task /etc files, and config.json (oci/spec.ts).
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { ContainerMount, ContainerOptions, TaskLaunch } from '../agent/executor.js';
import type { RegistryAuth } from '../../api/objects/index.js';
import { findTool } from '../../lib/exec.js';
import { VOLUME_NAME } from '../../api/container-options.js';
import { embeddedResolvConf, hostResolvConf, resolvConf } from '../../dns/resolv-conf.js';
import { buildOciConfig, type MountRequest, type OciConfig } from './oci/spec.js';
import { mountRootfs, pathInRoot } from './oci/rootfs.js';
import {
  BUILTIN_IMAGE,
  HOST_IMAGE_DEFAULTS,
  planTask,
  type ImageDefaults,
  type TaskPlan,
} from './task-plan.js';
import type { TaskFiles } from './task-files.js';
import type { Runner } from '../../lib/spawner.js';

/** An image ready to run: its unpacked layers (top first, as overlayfs takes them) and its config. */
export interface RunnableImage {
  lowerDirs: string[];
  config: ImageDefaults;
}

/** Where images come from (worker/images' store); `host` is built in. */
export interface ImageSource {
  /**
   * The image, pulled first when the node does not have it (with `auth` when it is for the image's
   * registry, `--with-registry-auth`). Throws an Error fit for `service ps` (`No such image: x`,
   * `unauthorized: ...`) when it cannot be had.
   */
  resolve(ref: string, auth?: RegistryAuth): Promise<RunnableImage>;
}

export interface BundleContext {
  nodeHostname: string;
  swarmliteBinDir: string;
  pidsMax: number;
  images?: ImageSource;
  /** Named volumes live in <volumesRoot>/<name>/_data; absent: volume mounts are refused. */
  volumesRoot?: string;
  /** Absent: the container shares the node's network namespace (`--network host`). */
  netnsPath?: string;
  cgroupsPath: string;
  swapAccounting: boolean;
  /** How the overlay's mount is run (the task runtime's spawner). */
  run?: Runner;
}

const MODE_OK = /^[0-7]{3,4}$/;

async function resolveImage(
  ref: string,
  auth: RegistryAuth | undefined,
  images: ImageSource | undefined,
): Promise<RunnableImage> {
  if (ref === BUILTIN_IMAGE) return { lowerDirs: ['/'], config: HOST_IMAGE_DEFAULTS };
  if (!images)
    throw new Error(
      `unknown image "${ref}": only the built-in image "${BUILTIN_IMAGE}" is available on this node`,
    );
  return images.resolve(ref, auth);
}

function readInRoot(root: string, path: string): string {
  try {
    return readFileSync(pathInRoot(root, path), 'utf8');
  } catch {
    return '';
  }
}

/** A container mount request turned into what the OCI config takes (volumes made on first use). */
function mountRequest(m: ContainerMount, volumesRoot: string | undefined): MountRequest {
  if (m.type === 'tmpfs') {
    if (m.sizeBytes !== undefined && (!Number.isSafeInteger(m.sizeBytes) || m.sizeBytes <= 0))
      throw new Error(`invalid tmpfs size ${m.sizeBytes} for ${m.target}`);
    const mode = m.mode === undefined ? undefined : m.mode.toString(8);
    if (mode !== undefined && !MODE_OK.test(mode)) throw new Error(`invalid tmpfs mode for ${m.target}`);
    const options = ['nosuid', 'nodev', 'noexec'];
    if (m.sizeBytes) options.push(`size=${m.sizeBytes}`);
    if (mode) options.push(`mode=${mode}`);
    return { type: 'tmpfs', target: m.target, options };
  }
  if (m.type === 'volume') {
    if (!VOLUME_NAME.test(m.source))
      throw new Error(`invalid volume name "${m.source}": use letters, digits, '_', '.' and '-'`);
    if (!volumesRoot) throw new Error('named volumes are not available on this node');
    const data = join(volumesRoot, m.source, '_data');
    mkdirSync(data, { recursive: true, mode: 0o755 });
    return { type: 'bind', source: data, target: m.target, readonly: m.readonly };
  }
  if (!posix.isAbsolute(m.source)) throw new Error(`invalid bind source "${m.source}": it must be absolute`);
  if (!existsSync(m.source)) throw new Error(`bind source path does not exist: ${m.source}`);
  return { type: 'bind', source: m.source, target: m.target, readonly: m.readonly };
}

/** /etc/hosts of a task: loopback names, and its hostname on a loopback address until it has others. */
function hostsFile(hostname: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `127.0.1.1\t${hostname}`,
    '',
  ].join('\n');
}

/** A standalone container's resolv.conf (ContainerOptions.resolvConf); undefined for a task's. */
export function containerResolvConf(
  mode: ContainerOptions['resolvConf'],
  dns: { nameservers: string[]; search: string[]; options: string[] },
): string | undefined {
  if (mode?.mode === 'embedded') return embeddedResolvConf(readHostFile(mode.nodeFile), dns);
  if (mode?.mode === 'node') return hostResolvConf(readHostFile(mode.nodeFile), dns.nameservers);
  return undefined;
}

function readHostFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export interface Bundle {
  plan: TaskPlan;
  config: OciConfig;
  files: Record<'resolvConf' | 'hosts' | 'hostname', string>;
}

/**
 * Mounts the task's root filesystem in its folder, then plans the task against it and renders the
 * bundle. The caller writes the files and undoes the mount when anything here throws.
 */
export async function prepareBundle(
  launch: TaskLaunch,
  files: TaskFiles,
  ctx: BundleContext,
): Promise<Bundle> {
  const resolv = resolvConf(launch.spec.dns); // refuses bad --dns-search/--dns-option first
  const image = await resolveImage(launch.spec.image, launch.spec.registryAuth, ctx.images);
  const isHost = launch.spec.image === BUILTIN_IMAGE;
  const opts: ContainerOptions = launch.container ?? {};
  const mounts = (opts.mounts ?? []).map((m) => mountRequest(m, ctx.volumesRoot));
  const { merged } = await mountRootfs(files.dir, image.lowerDirs, ctx.run);
  const hostNetwork = opts.hostNetwork === true;
  // On the node's network the container is the node, as Docker's `--network host`: its name by default.
  const planned =
    hostNetwork && !launch.spec.hostname
      ? { ...launch, spec: { ...launch.spec, hostname: ctx.nodeHostname } }
      : launch;
  const plan = planTask(planned, {
    nodeHostname: ctx.nodeHostname,
    ...(isHost ? { swarmliteBinDir: ctx.swarmliteBinDir } : {}),
    pidsMax: ctx.pidsMax,
    image: image.config,
    passwd: readInRoot(merged, '/etc/passwd'),
    group: readInRoot(merged, '/etc/group'),
    isExecutable: (p) => {
      const st = statSync(pathInRoot(merged, p), { throwIfNoEntry: false });
      return !!st && st.isFile() && (st.mode & 0o111) !== 0;
    },
    isDirectory: (p) => statSync(pathInRoot(merged, p), { throwIfNoEntry: false })?.isDirectory() ?? false,
  });
  if (isHost) {
    // The host image: a private /tmp, and the running swarmlite visible where the host has it (its
    // checkout may live on another filesystem than the root the overlay shows, e.g. under /tmp).
    mounts.push({ type: 'tmpfs', target: '/tmp', options: ['nosuid', 'nodev', 'mode=1777'] });
    const swarmliteRoot = dirname(ctx.swarmliteBinDir);
    if (existsSync(swarmliteRoot))
      mounts.push({ type: 'bind', source: swarmliteRoot, target: swarmliteRoot, readonly: true });
  }
  const config = buildOciConfig({
    args: plan.argv,
    env: plan.env,
    cwd: plan.workdir,
    uid: plan.user?.uid ?? 0,
    gid: plan.user?.gid ?? 0,
    additionalGids: plan.user?.groups ?? [],
    hostname: plan.hostname,
    rootfs: 'rootfs',
    readonlyRootfs: opts.readOnly ?? false,
    ...(ctx.netnsPath ? { netnsPath: ctx.netnsPath } : {}),
    cgroupsPath: ctx.cgroupsPath,
    limits: plan.limits,
    swapAccounting: ctx.swapAccounting,
    capAdd: opts.capAdd ?? [],
    capDrop: opts.capDrop ?? [],
    noNewPrivileges: opts.noNewPrivileges ?? false,
    seccompUnconfined: opts.seccomp === 'unconfined',
    etcFiles: { hosts: files.hosts, hostname: files.hostname, resolvConf: files.resolvConf },
    mounts,
    // The host image keeps the init its tasks always had: its commands (`sleep`) expect SIGTERM to end them.
    ...((opts.init ?? isHost) ? { init: findTool('tini-static') } : {}),
    arch: process.arch,
  });
  // On the node's network the node's own resolvers and names apply (the embedded DNS does not listen there).
  const etc = hostNetwork
    ? { resolvConf: readHostFile('/etc/resolv.conf'), hosts: readHostFile('/etc/hosts') }
    : {
        resolvConf: containerResolvConf(opts.resolvConf, launch.spec.dns) ?? resolv,
        hosts: hostsFile(plan.hostname),
      };
  return { plan, config, files: { ...etc, hostname: `${plan.hostname}\n` } };
}
