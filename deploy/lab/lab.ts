// The one-machine lab: `up`, `down`, `ls`, `exec`, and the failure switches `kill`/`stop`/`start`.
// Each step of `up` leaves a trace `down` can find (names derive from the lab's name; pids are
// written as daemons start), so `down` is exact and idempotent, even after `up` crashed half-way.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { requireTools } from '../../lib/exec.js';
import { UserError, errorMessage } from '../../lib/errors.js';
import { destroyNetwork, attachMachine, createHostNetwork, createSwitch } from './network.js';
import {
  createUtsNamespace,
  daemonRunning,
  execInHost,
  prepareUtsFolder,
  readDaemonRef,
  startDaemon,
  stopDaemon,
  unmountIfMounted,
} from './hosts.js';
import { formSwarm } from './swarm.js';
import {
  createRegistryNetwork,
  registryDaemonArgs,
  startRegistries,
  stopRegistries,
  trustRegistries,
  validateRegistrySpecs,
  type LabRegistrySpec,
} from './registry.js';
import { vmExec, vmLabDown, vmLabUp, vmLabViews, vmSignal, vmStart } from '../vmlab/vmlab.js';
import { containerRuntime, taskRuntime } from '../../daemon/executor.js';
import { OverlayDriver } from '../../worker/network/overlay/driver.js';
import { withDaemon } from '../../daemon/client.js';
import { labNames, parseHostName, validateLabName, validateNodeCount } from './names.js';
import {
  claimLabDir,
  labDir,
  listLabNames,
  readLabState,
  releaseSubnets,
  requireLabState,
  reserveSubnet,
  subnetsOf,
  writeLabState,
  type LabHostState,
  type LabState,
} from './state.js';

const LAB_TOOLS = ['ip', 'bridge', 'nsenter', 'unshare', 'mount', 'umount', 'sysctl'];

export interface LabUpOptions {
  name: string;
  nodes: number;
  /** Managers among the hosts (node1 ... nodeM); 0 leaves the hosts out of any swarm. */
  managers: number;
  /** Extra flags for every host's daemon (tests: `--executor simulated`). */
  daemonArgs?: string[];
  /** Image registries in the lab (namespace NAME-reg), started before the daemons, which trust them. */
  registries?: LabRegistrySpec[];
  /** QEMU/KVM VMs instead of namespace hosts (deploy/vmlab): their memory and first boot. */
  vms?: { memoryMiB: number; install: boolean; accel: string };
  /** Progress lines for the user (the CLI prints them; tests pass a no-op). */
  say?: (line: string) => void;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new UserError('the lab creates network namespaces: run it as root');
}

function planHosts(name: string, k: number, nodes: number): LabHostState[] {
  const names = labNames(name, k);
  const dir = labDir(name);
  return Array.from({ length: nodes }, (_, n) => {
    const host = names.host(n + 1);
    const hostDir = join(dir, host.hostname);
    return {
      ...host,
      dir: hostDir,
      socket: join(hostDir, 'swarmlite.sock'),
      dataRoot: join(hostDir, 'data'),
      execRoot: join(hostDir, 'exec'),
      logFile: join(hostDir, 'daemon.log'),
      utsFile: join(dir, 'uts', host.hostname),
    };
  });
}

/** Waits for every promise, then throws the first failure. */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const say = opts.say ?? (() => {});
  const name = validateLabName(opts.name);
  const nodes = validateNodeCount(opts.nodes, opts.vms ? '--vms' : '--nodes');
  if (!Number.isInteger(opts.managers) || opts.managers < 0 || opts.managers > nodes) {
    throw new UserError(
      `--managers must be a whole number from 0 to --nodes (${nodes}), got '${opts.managers}'`,
    );
  }
  if (opts.vms && !opts.vms.install && opts.managers > 0) {
    throw new UserError('--no-install boots bare VMs: they cannot form a swarm (use --managers 0)', 2);
  }
  const registries = opts.registries ?? [];
  if (opts.vms && registries.length > 0)
    throw new UserError('--registry is for namespace labs, not --vms', 2);
  validateRegistrySpecs(registries);
  requireRoot();
  requireTools(LAB_TOOLS);
  claimLabDir(name);
  try {
    const k = reserveSubnet(name);
    if (opts.vms) {
      const state: LabState = {
        name,
        subnetIndex: k,
        nodes,
        managers: opts.managers,
        createdAt: new Date().toISOString(),
        hosts: [],
      };
      writeLabState(state);
      await vmLabUp(state, { name, vms: nodes, managers: opts.managers, ...opts.vms, say });
      return state;
    }
    const names = labNames(name, k);
    const state: LabState = {
      name,
      subnetIndex: k,
      nodes,
      managers: opts.managers,
      createdAt: new Date().toISOString(),
      hosts: planHosts(name, k, nodes).map((h) => ({ ...h, daemonArgs: opts.daemonArgs ?? [] })),
    };
    writeLabState(state);
    say(`lab ${name}: underlay ${names.subnet}, switch namespace ${names.switchNetns}`);
    await createSwitch(names);
    await attachMachine(names);
    await prepareUtsFolder(join(labDir(name), 'uts'));
    // allSettled: on a failure, cleanup must not race with steps still running for other hosts.
    await settleAll(
      state.hosts.map(async (host) => {
        await createHostNetwork(names, host.index);
        await createUtsNamespace(host);
      }),
    );
    if (registries.length > 0) {
      await createRegistryNetwork(names);
      state.registries = await startRegistries(name, labDir(name), names, registries);
      const flags = registryDaemonArgs(state.registries);
      for (const host of state.hosts) host.daemonArgs = [...(host.daemonArgs ?? []), ...flags];
      trustRegistries(state.hosts, state.registries);
      writeLabState(state);
      for (const r of state.registries) {
        const how = r.insecure ? 'http, insecure' : 'https, the lab CA';
        say(
          `  registry ${r.name}  ${r.address}  (${how}${r.user ? `, user ${r.user}` : ''})  pid ${r.process.pid}`,
        );
      }
    }
    await settleAll(
      state.hosts.map(async (host) => {
        host.daemon = await startDaemon(host);
      }),
    );
    writeLabState(state);
    for (const host of state.hosts) {
      say(`  ${host.hostname}  ${host.address}  daemon pid ${host.daemon?.pid}  ${host.socket}`);
    }
    if (opts.managers > 0) {
      say(`  swarm: init on node1, ${opts.managers - 1} more manager(s), ${nodes - opts.managers} worker(s)`);
      await formSwarm(state.hosts, opts.managers);
    }
    return state;
  } catch (err) {
    await labDown(name).catch(() => {});
    throw err;
  }
}

/** Removes everything the lab made. Idempotent; returns whether anything of the lab was found. */
export async function labDown(nameArg: string): Promise<boolean> {
  const name = validateLabName(nameArg);
  requireRoot();
  requireTools(LAB_TOOLS);
  const state = readLabState(name);
  const k = state?.subnetIndex ?? subnetsOf(name)[0] ?? 0;
  const names = labNames(name, k);
  let found = !!state || subnetsOf(name).length > 0 || listLabNames().includes(name);
  // Processes first, so nothing recreates what is about to be removed.
  for (const host of state?.hosts ?? []) {
    if (await stopDaemon(host, 'SIGTERM')) found = true;
  }
  if (await stopRegistries(labDir(name))) found = true;
  if (await vmLabDown(state, name)) found = true;
  const before = found;
  // Tasks outlive their daemon by design (it adopts them when it comes back); a lab going away
  // takes them along: processes, namespaces, cgroups, files.
  for (const host of state?.hosts ?? []) {
    await taskRuntime(host.dataRoot, host.execRoot, host.prefix, host.hostname)
      .removeEverything()
      .catch((err: unknown) => console.error(`lab down: tasks of ${host.hostname}: ${errorMessage(err)}`));
    await containerRuntime(host.dataRoot, host.execRoot, host.prefix, host.hostname)
      .removeEverything()
      .catch((err: unknown) =>
        console.error(`lab down: containers of ${host.hostname}: ${errorMessage(err)}`),
      );
    // Overlay sandboxes are named namespaces of their own: they outlive the host's namespace.
    try {
      const overlays = await new OverlayDriver({ prefix: host.prefix, nodeNetns: host.netns }).removeAll();
      for (const f of overlays.failures) console.error(`lab down: overlays of ${host.hostname}: ${f.error}`);
    } catch (err) {
      // Reported, and the rest still removed: the namespaces below take whatever is left inside them.
      console.error(`lab down: overlays of ${host.hostname}: ${errorMessage(err)}`);
    }
  }
  await destroyNetwork(name, names.hostVeth);
  const utsDir = join(labDir(name), 'uts');
  for (const host of state?.hosts ?? []) await unmountIfMounted(host.utsFile);
  await unmountIfMounted(utsDir);
  rmSync(labDir(name), { recursive: true, force: true });
  releaseSubnets(name);
  return before;
}

export interface LabHostView {
  lab: string;
  /** netns: a host of network namespaces; vm: a QEMU/KVM VM (daemon and pid are the VM's). */
  kind: 'netns' | 'vm';
  host: string;
  address: string;
  netns: string;
  socket: string;
  daemon: 'running' | 'stopped';
  pid: number | null;
  /** manager, worker, or '' when the host is in no swarm (or its daemon is not answering). */
  role: string;
  leader: boolean;
}

/** Every lab's hosts; the role comes from each running daemon (asked concurrently, briefly). */
export async function labLs(): Promise<LabHostView[]> {
  const states = listLabNames().flatMap((lab) => readLabState(lab) ?? []);
  const hosts = states.flatMap((state) => state.hosts.map((host) => ({ lab: state.name, host })));
  const vms = states
    .filter((s) => s.vms)
    .map(async (state) =>
      (await vmLabViews(state)).map((vm): LabHostView => ({
        lab: state.name,
        kind: 'vm',
        host: vm.host,
        address: vm.address,
        netns: '',
        socket: '',
        daemon: vm.running ? 'running' : 'stopped',
        pid: vm.pid,
        role: vm.role,
        leader: vm.leader,
      })),
    );
  const views = await Promise.all(
    hosts.map(async ({ lab, host }) => {
      const running = daemonRunning(host);
      const info = running
        ? await withDaemon(`unix://${host.socket}`, (c) => c.info({}, 1_000)).catch(() => undefined)
        : undefined;
      return {
        lab,
        kind: 'netns',
        host: host.hostname,
        address: host.address,
        netns: host.netns,
        socket: host.socket,
        daemon: running ? 'running' : 'stopped',
        pid: running ? (readDaemonRef(host)?.pid ?? null) : null,
        role: info?.role ?? '',
        leader: info?.isLeader ?? false,
      } satisfies LabHostView;
    }),
  );
  return [...views, ...(await Promise.all(vms)).flat()].sort(
    (a, b) => a.lab.localeCompare(b.lab) || a.host.localeCompare(b.host, 'en', { numeric: true }),
  );
}

function findHost(lab: string, hostName: string): { state: LabState; index: number } {
  const state = requireLabState(validateLabName(lab));
  return { state, index: parseHostName(hostName, state.nodes) };
}

/** Runs a command in a host: inside its namespaces, or over ssh in a VM. */
export function labExec(lab: string, hostName: string, command: string[]): number {
  if (command.length === 0)
    throw new UserError('lab exec needs a command: swarmlite lab exec node1 -- CMD [ARG...]', 2);
  requireRoot();
  const { state, index } = findHost(lab, hostName);
  return state.vms ? vmExec(state, index, command) : execInHost(state.hosts[index - 1]!, command);
}

/**
 * SIGKILL (a crash) or SIGTERM (a clean stop) a host's daemon; on a VM lab the whole VM: the plug
 * pulled, or the power button. Returns what happened, for the user.
 */
export async function labSignal(
  lab: string,
  hostName: string,
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<string> {
  requireRoot();
  const { state, index } = findHost(lab, hostName);
  if (state.vms) {
    await vmSignal(state, index, signal);
    return signal === 'SIGKILL' ? 'VM killed (power cut)' : 'VM shut down';
  }
  const host = state.hosts[index - 1]!;
  if (!(await stopDaemon(host, signal))) throw new UserError(`${host.hostname}'s daemon is not running`);
  return signal === 'SIGKILL' ? 'daemon killed' : 'daemon stopped';
}

/** Starts a host's daemon again on the same data root; on a VM lab boots the VM on its own disk. */
export async function labStart(lab: string, hostName: string): Promise<string> {
  requireRoot();
  const { state, index } = findHost(lab, hostName);
  if (state.vms) return `VM booted (qemu pid ${await vmStart(state, index)})`;
  const host = state.hosts[index - 1]!;
  host.daemon = await startDaemon(host);
  writeLabState(state);
  return `daemon started (pid ${host.daemon.pid})`;
}
