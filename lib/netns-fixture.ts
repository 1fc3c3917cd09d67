// Namespaces for tests, benchmarks and the lab: a switch namespace holding a bridge, namespaces wired
// to it by veths with underlay addresses (198.18.0.0/15, the benchmarking range, never routed), and
// the processes started inside them. Everything is named with one prefix, so teardown removes exactly
// what was made, and tolerates what is already gone (a crashed run, a half-made lab, a second call).
import { spawn, type ChildProcess } from 'node:child_process';
import { findTool, run } from './exec.js';

/** Quiet, predictable interfaces: no IPv6 autoconfiguration chatter, no reverse-path surprises. */
const QUIET_SYSCTLS: [string, string][] = [
  ['net.ipv6.conf.all.disable_ipv6', '1'],
  ['net.ipv6.conf.default.disable_ipv6', '1'],
  ['net.ipv4.conf.all.rp_filter', '0'],
  ['net.ipv4.conf.default.rp_filter', '0'],
];

/** A named namespace with lo up and the quiet settings above. */
export async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  for (const [key, value] of QUIET_SYSCTLS)
    await run('sysctl', ['-q', '-w', `${key}=${value}`], { netns: name });
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** A switch: a namespace of its own holding bridge `bridge`, up (the machine's firewall never sees it). */
export async function addSwitch(netns: string, bridge: string, address?: string): Promise<void> {
  await addNetns(netns);
  await run('ip', ['-n', netns, 'link', 'add', bridge, 'type', 'bridge']);
  if (address) await run('ip', ['-n', netns, 'addr', 'add', address, 'dev', bridge]);
  await run('ip', ['-n', netns, 'link', 'set', bridge, 'up']);
}

export interface Plug {
  /** The switch's namespace and bridge. */
  switchNetns: string;
  bridge: string;
  /** The veth end on the switch. */
  port: string;
  /** Where the other end goes, and its name there. */
  netns: string;
  ifName: string;
  /** 'a.b.c.d/len' on the inner end. */
  address?: string;
  mac?: string;
}

/** A veth from a switch's bridge into `netns`; both ends are born in named namespaces, never the machine's. */
export async function plug(p: Plug): Promise<void> {
  await run('ip', [
    '-n',
    p.switchNetns,
    'link',
    'add',
    p.port,
    'type',
    'veth',
    'peer',
    'name',
    p.ifName,
    'netns',
    p.netns,
  ]);
  await run('ip', ['-n', p.switchNetns, 'link', 'set', p.port, 'master', p.bridge, 'up']);
  if (p.mac) await run('ip', ['-n', p.netns, 'link', 'set', p.ifName, 'address', p.mac]);
  if (p.address) await run('ip', ['-n', p.netns, 'addr', 'add', p.address, 'dev', p.ifName]);
  await run('ip', ['-n', p.netns, 'link', 'set', p.ifName, 'up']);
}

/** Named network namespaces whose names start with `prefix`. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((ns): ns is string => !!ns && ns.startsWith(prefix));
}

/**
 * Deletes every namespace whose name starts with `prefix`. Idempotent: one deleted meanwhile (by the
 * code under test, or a concurrent teardown) counts as deleted.
 */
export async function deleteNamespaces(prefix: string): Promise<void> {
  for (const ns of await namespacesWithPrefix(prefix)) {
    await run('ip', ['netns', 'del', ns], { okIfAbsent: true });
  }
}

/**
 * One run's namespaces and processes, all named after `tag`: a switch, hosts on it at
 * `<base>.<index>/<prefixLen>`, other namespaces, and processes inside them. `destroy()` stops the
 * processes it started (by pid) and deletes every namespace starting with the tag (also those made by
 * the code under test, when it names them after the tag), and nothing else.
 */
export class NetnsFixture {
  private readonly children: ChildProcess[] = [];
  readonly switchNetns: string;
  readonly bridge = 'sw0';

  constructor(
    /** Every namespace name of this run starts with it. */
    readonly tag: string,
    /** First three octets of the hosts' addresses, inside 198.18.0.0/15. */
    readonly base: string,
    readonly prefixLen = 24,
  ) {
    if (!/^198\.1[89]\.\d{1,3}$/.test(base)) throw new RangeError(`underlay ${base} is not in 198.18.0.0/15`);
    this.switchNetns = `${tag}-sw`;
  }

  async createSwitch(): Promise<void> {
    await addSwitch(this.switchNetns, this.bridge);
  }

  /** A namespace named `<tag>-<name>`; returns its name. */
  async addNetns(name: string): Promise<string> {
    const netns = `${this.tag}-${name}`;
    await addNetns(netns);
    return netns;
  }

  /** A host namespace `<tag>-h<index>` with eth0 at <base>.<index> on the switch. */
  async addHost(index: number): Promise<{ netns: string; address: string }> {
    const host = { netns: `${this.tag}-h${index}`, address: `${this.base}.${index}` };
    await addNetns(host.netns);
    await plug({
      switchNetns: this.switchNetns,
      bridge: this.bridge,
      port: `p${index}`,
      netns: host.netns,
      ifName: 'eth0',
      address: `${host.address}/${this.prefixLen}`,
    });
    return host;
  }

  /** Starts `argv` inside a namespace (`node` is this Node); destroy() stops it by its pid. */
  spawnIn(netns: string, argv: string[]): ChildProcess {
    const [tool, ...args] = argv;
    const file = tool === 'node' ? process.execPath : findTool(tool!);
    // `ip netns exec` execs the command, so the child's pid is the command's own.
    const child = spawn(findTool('ip'), ['netns', 'exec', netns, file, ...args], { stdio: 'pipe' });
    this.children.push(child);
    return child;
  }

  /** Runs a command inside a namespace; resolves with its exit code and output (never rejects). */
  async execIn(netns: string, argv: string[], timeoutMs = 10_000): Promise<{ code: number; out: string }> {
    const child = this.spawnIn(netns, argv);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    clearTimeout(timer);
    return { code, out };
  }

  async destroy(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await deleteNamespaces(this.tag);
  }
}
