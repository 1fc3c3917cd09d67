// For the mesh's integration tests and bench: a "node" namespace routing between a client
// namespace (underlay: a random /24 of 198.19.100-150.0, inside 198.18.0.0/15, the benchmarking
// range that is never routed) and task namespaces on a bridge, with small servers in the tasks.
// Every name starts with one random tag, and `destroy()` removes exactly what this run made (the
// processes it started, by pid, then its namespaces), also after a failure.
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { run } from '../lib/exec.js';
import { addNetns, NetnsFixture } from '../lib/netns-fixture.js';

export const TASK_SUBNET = '10.201.0';
export const BACKEND_PORT = 8080;

/** An HTTP server answering its own name (whoami), and a UDP echo answering the same, on 8080. */
const SERVER = `
const name = process.argv[1];
require('node:http').createServer((q, s) => s.end(name)).listen(${BACKEND_PORT}, () => console.log('ready'));
const u = require('node:dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(name, r.port, r.address));
u.bind(${BACKEND_PORT});
`;

/**
 * Opens `count` TCP connections one after another (a new connection and source port each: HTTP
 * without keep-alive), prints how many answers each backend name gave, plus failures.
 */
export const HTTP_CLIENT = `
const [host, port, count] = process.argv.slice(1);
const http = require('node:http');
const get = () => new Promise((resolve) => {
  const req = http.get({ host, port: Number(port), agent: false, timeout: 2000 }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve(body));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => resolve('error:' + (e.code || e.message)));
});
(async () => {
  const counts = {};
  for (let i = 0; i < Number(count); i++) { const b = await get(); counts[b] = (counts[b] || 0) + 1; }
  console.log(JSON.stringify(counts));
})();
`;

/** One TCP connect attempt: prints the outcome (connected or the error code) and how long it took. */
export const CONNECT_PROBE = `
const [host, port] = process.argv.slice(1);
const t0 = process.hrtime.bigint();
const s = require('node:net').connect({ host, port: Number(port) });
const done = (outcome) => {
  console.log(JSON.stringify({ outcome, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  s.destroy();
};
s.setTimeout(3000, () => done('timeout'));
s.on('connect', () => done('connected'));
s.on('error', (e) => done(e.code || e.message));
`;

/** `count` UDP datagrams, each from a new socket (a new conntrack entry), counting replies per name. */
export const UDP_CLIENT = `
const [host, port, count] = process.argv.slice(1);
const dgram = require('node:dgram');
const ask = () => new Promise((resolve) => {
  const s = dgram.createSocket('udp4');
  const timer = setTimeout(() => { s.close(); resolve('timeout'); }, 1000);
  s.on('message', (m) => { clearTimeout(timer); s.close(); resolve(m.toString()); });
  s.send('who', Number(port), host);
});
(async () => {
  const counts = {};
  for (let i = 0; i < Number(count); i++) { const b = await ask(); counts[b] = (counts[b] || 0) + 1; }
  console.log(JSON.stringify(counts));
})();
`;

/**
 * Namespaces and processes of one test run, all named after one random tag: `destroy()` stops the
 * processes it started (by pid) and deletes the namespaces it made, and nothing else.
 */
export class NetnsLab {
  readonly tag = `igt${randomBytes(2).toString('hex')}`;
  readonly underlay = `198.19.${randomInt(100, 151)}`;
  private readonly fixture = new NetnsFixture(this.tag, this.underlay);

  /** A namespace named `name` (which starts with the tag). */
  protected async addNetns(name: string): Promise<void> {
    await addNetns(name);
  }

  /** Starts `node <args>` inside a namespace; destroy() stops it by its pid. */
  spawnIn(netns: string, nodeArgs: string[]): ChildProcess {
    return this.fixture.spawnIn(netns, ['node', ...nodeArgs]);
  }

  /** Starts a long-running script and waits for its first line of output (its "ready"). */
  protected startReady(netns: string, script: string, args: string[]): Promise<void> {
    const child = this.spawnIn(netns, ['-e', script, ...args]);
    return new Promise((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`script in ${netns} exited (${code})`)));
    });
  }

  /** Runs a node script in a namespace to completion and parses the JSON line it prints. */
  async runScript<T>(netns: string, script: string, args: string[], timeoutMs = 60_000): Promise<T> {
    const child = this.spawnIn(netns, ['-e', script, ...args]);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`script in ${netns} exited ${code}: ${err}`);
    return JSON.parse(out.trim()) as T;
  }

  /** Stops this run's processes (by pid) and deletes its namespaces; idempotent. */
  async destroy(): Promise<void> {
    await this.fixture.destroy();
  }
}

export class MeshTestNet extends NetnsLab {
  readonly client = `${this.tag}-client`;
  readonly node = `${this.tag}-node`;
  /** The node's underlay address, where published ports answer. */
  readonly nodeAddress = `${this.underlay}.1`;
  readonly tasks: { netns: string; address: string; name: string }[] = [];

  /** Client ⟷ node on the underlay, node ⟷ `taskCount` tasks on a bridge, a server in each task. */
  async build(taskCount: number): Promise<void> {
    await this.addNetns(this.client);
    await this.addNetns(this.node);
    await run('ip', [
      '-n',
      this.client,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      this.node,
    ]);
    await run('ip', ['-n', this.client, 'addr', 'add', `${this.underlay}.2/24`, 'dev', 'eth0']);
    await run('ip', ['-n', this.node, 'addr', 'add', `${this.nodeAddress}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', this.client, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', this.node, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', this.node, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', this.node, 'addr', 'add', `${TASK_SUBNET}.1/24`, 'dev', 'br0']);
    await run('ip', ['-n', this.node, 'link', 'set', 'br0', 'up']);
    await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: this.node });
    const ready: Promise<void>[] = [];
    for (let i = 1; i <= taskCount; i++) {
      const task = { netns: `${this.tag}-t${i}`, address: `${TASK_SUBNET}.${10 + i}`, name: `task${i}` };
      await this.addNetns(task.netns);
      await run('ip', [
        '-n',
        this.node,
        'link',
        'add',
        `veth${i}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        task.netns,
      ]);
      await run('ip', ['-n', this.node, 'link', 'set', `veth${i}`, 'master', 'br0', 'up']);
      await run('ip', ['-n', task.netns, 'addr', 'add', `${task.address}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', task.netns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', task.netns, 'route', 'add', 'default', 'via', `${TASK_SUBNET}.1`]);
      this.tasks.push(task);
      ready.push(this.startServer(task.netns, task.name));
    }
    await Promise.all(ready);
  }

  private startServer(netns: string, name: string): Promise<void> {
    return this.startReady(netns, SERVER, [name]);
  }

  /**
   * An "ingress sandbox" namespace hanging off the node like the real one hangs off the gateway
   * bridge (node 172.30.0.1, sandbox 172.30.0.2, its default route via the node); it reaches the tasks
   * through the node, standing in for the ingress overlay. Forwarding on, as the sandbox routes.
   */
  async addSandbox(): Promise<{ netns: string; address: string }> {
    const sandbox = { netns: `${this.tag}-sbx`, address: '172.30.0.2' };
    await this.addNetns(sandbox.netns);
    await run('ip', [
      '-n',
      this.node,
      'link',
      'add',
      'sbx',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      sandbox.netns,
    ]);
    await run('ip', ['-n', this.node, 'addr', 'add', '172.30.0.1/24', 'dev', 'sbx']);
    await run('ip', ['-n', this.node, 'link', 'set', 'sbx', 'up']);
    await run('ip', ['-n', sandbox.netns, 'addr', 'add', `${sandbox.address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', sandbox.netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', sandbox.netns, 'route', 'add', 'default', 'via', '172.30.0.1']);
    await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: sandbox.netns });
    return sandbox;
  }
}
