// Docker as the peer the benchmarks compare against (bench:converge, bench:dns): Debian's docker.io,
// installed when missing with no service started, and one dockerd per run confined to a network
// namespace of the bench's own. Other tests run labs on the same machine at the same time, so the
// daemon must not touch anything outside what the bench made: no iptables rules, no docker0 bridge,
// no br_netfilter, state and sockets in a temp dir, containers in a cgroup parent of its own, and an
// underlay address in 198.18.0.0/15 on a veth pair that lives entirely inside the namespace.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, run } from '../lib/exec.js';
import { processRef, signalProcess, waitForExit } from '../lib/process.js';

/** Debian's binaries, named in full: another `docker` (a newer CLI) may come first on PATH. */
const DOCKERD = '/usr/sbin/dockerd';
const DOCKER = '/usr/bin/docker';
const POLICY_RC = '/usr/sbin/policy-rc.d';
const CGROUP_ROOT = '/sys/fs/cgroup';
/** dockerd makes its plugin discovery folder here whatever its exec root (removed after if it made it). */
const PLUGIN_DIRS = ['/run/docker/plugins', '/run/docker'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Paths of one daemon's private state. */
export interface PeerPaths {
  dir: string;
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  socket: string;
  configFile: string;
}

export function peerPaths(dir: string): PeerPaths {
  return {
    dir,
    dataRoot: join(dir, 'data'),
    execRoot: join(dir, 'exec'),
    pidfile: join(dir, 'dockerd.pid'),
    socket: join(dir, 'docker.sock'),
    configFile: join(dir, 'daemon.json'),
  };
}

/**
 * dockerd's command line. Every flag that keeps it off the shared machine is here: its own state,
 * sockets and config file (not /etc/docker/daemon.json), no iptables in any family (so no rules, no
 * br_netfilter), no default bridge, containers under `cgroupParent`, and `dns` as the upstream its
 * embedded DNS forwards unknown names to (an address in the namespace: nothing leaves it).
 */
export function dockerdArgs(p: PeerPaths, opts: { cgroupParent: string; dns: string }): string[] {
  return [
    `--data-root=${p.dataRoot}`,
    `--exec-root=${p.execRoot}`,
    `--pidfile=${p.pidfile}`,
    `--host=unix://${p.socket}`,
    `--config-file=${p.configFile}`,
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--bridge=none',
    `--cgroup-parent=${opts.cgroupParent}`,
    `--dns=${opts.dns}`,
    '--storage-driver=overlay2',
    '--log-level=warn',
  ];
}

/**
 * The two ends of the namespace's veth: a /30 in 198.19.252.0/22 (inside the benchmark underlay
 * 198.18.0.0/15, away from the labs' low addresses) picked by `seed`, so two runs at once differ.
 */
export function peerAddresses(seed: number): { address: string; peer: string } {
  const block = (seed >>> 0) % 256; // 256 /30s in a /22
  const third = 252 + (block >> 6);
  const fourth = (block & 63) * 4;
  return { address: `198.19.${third}.${fourth + 1}`, peer: `198.19.${third}.${fourth + 2}` };
}

/**
 * Installs Debian's docker.io when dockerd is missing, with no service started: invoke-rc.d asks
 * policy-rc.d, and 101 means "do not start"; one is written for the install when the machine has none.
 * Recommends are left out (cgroupfs-mount would mount cgroups at boot, needrestart restarts services).
 * Its boot links are disabled, and where systemd runs the units it enables are stopped and disabled.
 */
export async function ensureDocker(): Promise<void> {
  if (existsSync(DOCKERD) && existsSync(DOCKER)) return;
  console.log('installing docker.io with apt-get (no service started) ...');
  const ownPolicy = !existsSync(POLICY_RC);
  // containerd comes with docker.io; one that was there before may serve something else: left alone.
  const units = [
    'docker.service',
    'docker.socket',
    ...(existsSync('/usr/bin/containerd') ? [] : ['containerd.service']),
  ];
  if (ownPolicy)
    writeFileSync(
      POLICY_RC,
      '#!/bin/sh\n# swarmlite bench: no service starts during this install\nexit 101\n',
      { mode: 0o755 },
    );
  process.env.DEBIAN_FRONTEND ??= 'noninteractive';
  const install = () =>
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'docker.io'], { timeoutMs: 600_000 });
  try {
    try {
      await install();
    } catch {
      await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 });
      await install();
    }
  } finally {
    if (ownPolicy) unlinkSync(POLICY_RC);
  }
  // Nor at boot: the package links its init script into rc2-5.d (sysvinit) and enables its units.
  if (existsSync('/etc/init.d/docker')) await run('update-rc.d', ['docker', 'disable']);
  if (existsSync('/run/systemd/system'))
    await run('systemctl', ['disable', '--now', ...units], { okIfAbsent: true });
  if (!existsSync(DOCKERD)) throw new Error(`docker.io installed but ${DOCKERD} is missing`);
}

export interface DockerPeer {
  netns: string;
  /** The daemon's underlay address (swarm advertise address). */
  address: string;
  pid: number;
  /** Debian's docker CLI against this daemon; returns stdout. */
  docker(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** A GET on the Engine API over the daemon's socket, parsed JSON. */
  get<T>(path: string): Promise<T>;
  /** Pids of its processes now (dockerd, containerd, the shims): all in its network namespace. */
  processes(): number[];
  /** The cgroup parent of its containers (`/<netns>`). */
  cgroupParent: string;
  /** Stops the daemon and removes everything the peer made; idempotent. */
  stop(): Promise<void>;
}

/** GET over a unix socket. */
function getJson<T>(socket: string, path: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300)
          reject(new Error(`docker API ${path}: ${res.statusCode} ${body.trim()}`));
        else {
          try {
            resolve(JSON.parse(body) as T);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`docker API ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The inode of a network namespace, as /proc/PID/ns/net names it (`net:[INODE]`). */
function netnsInode(path: string): string {
  return `net:[${statSync(path).ino}]`;
}

/** Pids of every process whose network namespace is `inode` (dockerd, containerd, the shims). */
function processesInNetns(inode: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === inode) pids.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

/** Every cgroup folder under `name` in each v1 hierarchy (and the unified one), deepest first. */
function cgroupFolders(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    out.push(dir);
  };
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    const top = join(CGROUP_ROOT, hierarchy, name);
    if (existsSync(top)) walk(top);
  }
  return out;
}

function cgroupPids(folders: string[]): number[] {
  const pids = new Set<number>();
  for (const f of folders) {
    try {
      for (const line of readFileSync(join(f, 'cgroup.procs'), 'utf8').split('\n'))
        if (line) pids.add(Number(line));
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

async function killAll(pids: number[]): Promise<void> {
  const refs = pids.map((p) => processRef(p)).filter((r) => r !== undefined);
  for (const r of refs) signalProcess(r, 'SIGKILL');
  for (const r of refs) await waitForExit(r, 5_000);
}

/**
 * A dockerd in a namespace of its own (`<prefix><hex>`), ready to answer. Everything it makes goes
 * under one temp dir, one namespace and one cgroup parent, all named with the prefix, and stop()
 * (also called when the start fails) removes exactly those.
 */
export async function startDockerPeer(prefix = 'swlbd-'): Promise<DockerPeer> {
  await ensureDocker();
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  const paths = peerPaths(mkdtempSync(join(tmpdir(), `${name}-`)));
  const { address, peer } = peerAddresses(parseInt(name.slice(-6), 16));
  const cgroupParent = `/${name}`;
  const configDir = join(paths.dir, 'cli');
  let pid: number | undefined;
  let stopped = false;
  const made = PLUGIN_DIRS.filter((d) => !existsSync(d));

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const ref = pid === undefined ? undefined : processRef(pid);
    // dockerd stops its containers and its containerd on SIGTERM; what is left after 20 s is killed.
    if (ref && signalProcess(ref, 'SIGTERM') && !(await waitForExit(ref, 20_000)))
      signalProcess(ref, 'SIGKILL');
    if (existsSync(`/run/netns/${name}`)) await killAll(processesInNetns(netnsInode(`/run/netns/${name}`)));
    await killAll(cgroupPids(cgroupFolders(name)));
    for (const folder of cgroupFolders(name)) {
      for (let i = 0; i < 50 && existsSync(folder); i++) {
        try {
          rmdirSync(folder);
        } catch {
          await sleep(100); // busy until its last process is reaped
        }
      }
    }
    await run('ip', ['netns', 'del', name], { okIfAbsent: true });
    rmSync(paths.dir, { recursive: true, force: true });
    for (const d of made) {
      try {
        rmdirSync(d); // only while empty: another run's daemon may use it now
      } catch {
        // in use, or gone
      }
    }
  };

  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', name, 'link', 'add', 'swlbd0', 'type', 'veth', 'peer', 'name', 'swlbd1']);
    await run('ip', ['-n', name, 'addr', 'add', `${address}/30`, 'dev', 'swlbd0']);
    await run('ip', ['-n', name, 'addr', 'add', `${peer}/30`, 'dev', 'swlbd1']);
    await run('ip', ['-n', name, 'link', 'set', 'swlbd0', 'up']);
    await run('ip', ['-n', name, 'link', 'set', 'swlbd1', 'up']);
    // 20.10 keeps a trust key at /etc/docker/key.json unless the config file puts it elsewhere.
    writeFileSync(
      paths.configFile,
      `${JSON.stringify({ 'deprecated-key-path': join(paths.dir, 'key.json') })}\n`,
    );
    mkdirSync(configDir);
    const log = openSync(join(paths.dir, 'dockerd.log'), 'a');
    // unshare and nsenter exec in place: the child's pid is the daemon's. Its mounts (image layers,
    // the namespaces it binds) stay in a mount namespace of its own, a slave of the host's so it sees
    // the cgroup hierarchies (`ip netns exec` would remount /sys without them), gone with its last
    // process.
    const child = spawn(
      findTool('unshare'),
      [
        '--mount',
        '--propagation=slave',
        '--',
        findTool('nsenter'),
        `--net=/run/netns/${name}`,
        '--',
        DOCKERD,
        ...dockerdArgs(paths, { cgroupParent, dns: peer }),
      ],
      { stdio: ['ignore', log, log], detached: true },
    );
    closeSync(log);
    child.unref();
    pid = child.pid;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `dockerd exited: ${readFileSync(join(paths.dir, 'dockerd.log'), 'utf8').trim().slice(-2000)}`,
        );
      if (
        existsSync(paths.socket) &&
        (await getJson<unknown>(paths.socket, '/info', 5_000).catch(() => undefined))
      )
        break;
      if (Date.now() > deadline) throw new Error('dockerd did not answer within 60 s');
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const docker = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    runDocker(paths.socket, configDir, args, opts);
  return {
    netns: name,
    address,
    pid: pid!,
    docker,
    get: (path) => getJson(paths.socket, path),
    processes: () => processesInNetns(netnsInode(`/run/netns/${name}`)),
    cgroupParent,
    stop,
  };
}

/** The CLI with its own config dir (nothing written to ~/.docker) against one daemon. */
function runDocker(
  socket: string,
  configDir: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DOCKER_HOST: `unix://${socket}`,
        DOCKER_CONFIG: configDir,
      },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`docker ${args.join(' ')}: ${signal ?? `exit ${code}`}: ${err.trim()}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
