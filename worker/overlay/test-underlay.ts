// For the driver's integration tests: a small underlay of "host" namespaces on a switch namespace,
// addresses from one random /24 of 198.19.200-250.0 (198.18.0.0/15 is the benchmarking range, never
// routed), fake task namespaces, and processes started inside them. Everything is named with one
// random test prefix, so `destroy()` removes exactly what this run made, also after a failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { findTool, run } from '../../lib/exec.js';

export interface TestHost {
  netns: string;
  address: string;
}

export class TestUnderlay {
  /** Starts every namespace name of this run; the drivers' prefixes start with it too. */
  readonly tag = `ovt${randomBytes(2).toString('hex')}`;
  readonly base = `198.19.${randomInt(200, 251)}`;
  private readonly children: ChildProcess[] = [];
  private readonly switchNs = `${this.tag}-sw`;

  async createSwitch(): Promise<void> {
    await this.addNetns(this.switchNs);
    await run('ip', ['-n', this.switchNs, 'link', 'add', 'sw0', 'type', 'bridge']);
    await run('ip', ['-n', this.switchNs, 'link', 'set', 'sw0', 'up']);
  }

  /** A host namespace with eth0 at <base>.<index> on the switch. */
  async addHost(index: number): Promise<TestHost> {
    const host = { netns: `${this.tag}-h${index}`, address: `${this.base}.${index}` };
    await this.addNetns(host.netns);
    const port = `p${index}`;
    await run('ip', [
      '-n',
      this.switchNs,
      'link',
      'add',
      port,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      host.netns,
    ]);
    await run('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', 'sw0', 'up']);
    await run('ip', ['-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', host.netns, 'link', 'set', 'eth0', 'up']);
    return host;
  }

  /** A task namespace (what the runtime would make); returns its path. */
  async addTask(name: string): Promise<string> {
    const netns = `${this.tag}-${name}`;
    await this.addNetns(netns);
    return `/run/netns/${netns}`;
  }

  taskNetns(name: string): string {
    return `${this.tag}-${name}`;
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

  /** Starts a long-running process in a namespace; destroy() stops it (by its pid). */
  spawnIn(netns: string, argv: string[]): ChildProcess {
    const [tool, ...args] = argv;
    const file = tool === 'node' ? process.execPath : findTool(tool);
    const child = spawn(findTool('ip'), ['netns', 'exec', netns, file, ...args], { stdio: 'pipe' });
    this.children.push(child);
    return child;
  }

  /** Whether `target` answers a ping; up to three tries, as a loaded machine may delay one past 1 s. */
  async ping(netns: string, target: string, extra: string[] = []): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.pingOnce(netns, target, ['-W', '1', ...extra])) return true;
    }
    return false;
  }

  private async pingOnce(netns: string, target: string, extra: string[]): Promise<boolean> {
    const r = await this.execIn(netns, ['ping', '-n', '-c', '1', ...extra, target]);
    return r.code === 0;
  }

  /** A ping that gets no answer within 0.3 s (answers inside one machine take well under 1 ms). */
  async unreachable(netns: string, target: string, extra: string[] = []): Promise<boolean> {
    return !(await this.pingOnce(netns, target, ['-W', '0.3', ...extra]));
  }

  /** Stops this run's processes and deletes every namespace it (or a driver under its tag) made. */
  async destroy(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    const all = (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]);
    for (const ns of all.filter((n) => n.startsWith(this.tag))) {
      await run('ip', ['netns', 'del', ns], { okCodes: [1] });
    }
  }

  private async addNetns(name: string): Promise<void> {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await run('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1'], { netns: name });
  }
}
