// The embedded DNS's speed for an internal name against dnsmasq answering the same name from a hosts
// file, in the same run. Goal: embedded/dnsmasq queries/s ≥ 1.
// Three servers listen inside one network namespace this bench creates (`dnsb<hex>`): the embedded
// resolver at 127.0.0.11:53 (sockets opened there by its helper, served by this process), dnsmasq at
// 127.0.0.12:53, and a Node floor at 127.0.0.13:53 (node-floor.ts: Node's dgram with no DNS work, the
// floor for a resolver on Node's public dgram API). Each is driven by two generators run in the namespace:
// the bench's Node load (node-load.ts: checks every answer, gives p99) and dnsperf (C, cheaper per
// query than every server, so it shows each near its own limit). Beside queries/s, each server's CPU
// time per answered query is measured over the same rounds (/proc/PID/stat, process.cpuUsage for this
// process): the one figure that does not depend on which side saturates first. Rounds rotate the
// order; medians, and the median of the rounds' ratios. Nothing outside the namespace is touched.
// A fourth server, when Docker starts here, is Docker's own embedded DNS answering the same name in a
// swarm task's namespace (docker-dns.ts; its dockerd confined by ../docker-peer.ts).
//   npm run bench:dns           (root; installs dnsmasq-base, dnsperf and docker.io when missing)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool, run } from '../../lib/exec.js';
import { processCpuSeconds, processName } from '../../lib/process.js';
import { EmbeddedDns } from '../../dns/resolver.js';
import { MemorySource, quietLog, record } from '../../dns/test-support.js';
import { ensureDebianTool } from '../../lib/debian.js';
import { dnsperf } from './dnsperf.js';
import { startNodeFloor, type NodeFloor } from './node-floor.js';
import { nodeLoad } from './node-load.js';
import { startDockerDns, type DockerDns } from './docker-dns.js';
import { writeBenchImage } from '../busybox-image.js';

const ROUNDS = 3;
const SECONDS = 3;
const NODE_OUTSTANDING = 32;
/** dnsperf's own default. */
const DNSPERF_OUTSTANDING = 100;
const MAX_QUERIES = 2_000_000;
const NAME = 'web';
const VIP = '10.0.1.2';

interface Server {
  label: string;
  /** The namespace the generators run in, and the address they query there. */
  netns: string;
  host: string;
  /** The address the server answers NAME with. */
  expect: string;
  /** CPU seconds the server has used so far. */
  cpu(): number;
}

/** One generator's run against one server, reduced to what the report prints. */
interface Measured {
  qps: number;
  /** ms: p50 and p99 from the Node load; dnsperf's average in both otherwise. */
  p50: number;
  p99: number;
  /** Server CPU per answered query, µs. */
  cpuUs: number;
  lost: number;
  bad: number;
}

type Generator = (server: Server, seconds: number) => Promise<Omit<Measured, 'cpuUs'> & { answered: number }>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(server: Server, gen: Generator, seconds: number): Promise<Measured> {
  const before = server.cpu();
  const r = await gen(server, seconds);
  const used = server.cpu() - before;
  if (r.answered === 0) throw new Error(`${server.label} answered nothing`);
  return { ...r, cpuUs: (used * 1e6) / r.answered };
}

/** Warm-up (JIT, caches, every server answering), then the rounds; returns results per server. */
async function rounds(servers: Server[], gen: Generator): Promise<Measured[][]> {
  for (const s of servers) {
    const w = await measure(s, gen, 0.5);
    if (w.bad || w.lost)
      throw new Error(`${s.label} does not answer ${NAME} with ${s.expect}: ${JSON.stringify(w)}`);
  }
  const out: Measured[][] = servers.map(() => []);
  for (let round = 0; round < ROUNDS; round++)
    for (let k = 0; k < servers.length; k++) {
      const i = (k + round) % servers.length;
      out[i]!.push(await measure(servers[i]!, gen, SECONDS));
    }
  return out;
}

function report(title: string, servers: Server[], results: Measured[][], latency: 'p50/p99' | 'avg'): void {
  console.log(title);
  servers.forEach((s, i) => {
    const rs = results[i]!;
    const m = (f: (r: Measured) => number) => median(rs.map(f));
    const lat =
      latency === 'avg'
        ? `avg ${m((r) => r.p50).toFixed(3)} ms`
        : `p50 ${m((r) => r.p50).toFixed(3)} ms  p99 ${m((r) => r.p99).toFixed(3)} ms`;
    console.log(
      `  ${s.label.padEnd(24)} ${Math.round(m((r) => r.qps))
        .toString()
        .padStart(7)} q/s  ${lat}  server CPU ${m((r) => r.cpuUs).toFixed(2)} µs/query` +
        `  (rounds: ${rs.map((r) => Math.round(r.qps)).join(' / ')}; lost ${rs.reduce((n, r) => n + r.lost, 0)}, bad ${rs.reduce((n, r) => n + r.bad, 0)})`,
    );
  });
  const ratio = (a: number, b: number, f: (r: Measured) => number) =>
    median(results[a]!.map((r, k) => f(r) / f(results[b]![k]!)));
  const p99 = latency === 'avg' ? 'avg latency' : 'p99';
  console.log(
    `  embedded/dnsmasq: queries/s ${ratio(0, 1, (r) => r.qps).toFixed(2)} (goal ≥ 1), ${p99} ` +
      `${ratio(0, 1, (r) => r.p99).toFixed(2)}, CPU per query ${ratio(0, 1, (r) => r.cpuUs).toFixed(2)} ` +
      `(lower is better); Node floor/dnsmasq: queries/s ${ratio(2, 1, (r) => r.qps).toFixed(2)}, ` +
      `CPU per query ${ratio(2, 1, (r) => r.cpuUs).toFixed(2)}`,
  );
  if (servers.length > 3)
    console.log(
      `  embedded/Docker: queries/s ${ratio(0, 3, (r) => r.qps).toFixed(2)}, ${p99} ` +
        `${ratio(0, 3, (r) => r.p99).toFixed(2)}, CPU per query ${ratio(0, 3, (r) => r.cpuUs).toFixed(2)}`,
    );
}

/** Docker's records appear a moment after its tasks run: waits until it answers NAME right. */
async function answering(server: Server, gen: Generator): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await gen(server, 0.3).catch(() => undefined);
    if (r && r.answered > 0 && r.bad === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${server.label} does not answer ${NAME}: ${JSON.stringify(r)}`);
    await sleep(500);
  }
}

/** dnsmasq at address:53 in the namespace, answering from the one hosts file: no upstreams, no /etc/hosts. */
async function startDnsmasq(netns: string, address: string, hosts: string): Promise<ChildProcess> {
  const child = spawn(
    findTool('ip'),
    [
      'netns',
      'exec',
      netns,
      await ensureDebianTool('dnsmasq', 'dnsmasq-base'),
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${hosts}`,
      `--listen-address=${address}`,
      '--bind-interfaces',
      '--port=53',
      '--user=root',
      '--pid-file',
      '--log-facility=-',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await sleep(300);
  if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${err.trim()}`);
  // `ip netns exec` execs dnsmasq, so this pid is the server whose CPU is read.
  if (processName(child.pid!) !== 'dnsmasq') {
    child.kill('SIGTERM');
    throw new Error(`pid ${child.pid} is not dnsmasq`);
  }
  return child;
}

async function main(): Promise<void> {
  await ensureDebianTool('dnsperf', 'dnsperf');
  const netns = `dnsb${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `${netns}-`));
  let dnsmasq: ChildProcess | undefined;
  let floor: NodeFloor | undefined;
  let dns: EmbeddedDns | undefined;
  let docker: DockerDns | undefined;
  await run('ip', ['netns', 'add', netns]);
  try {
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, `${VIP} ${NAME}\n`);
    const queries = join(dir, 'queries');
    writeFileSync(queries, `${NAME} A\n`);
    dnsmasq = await startDnsmasq(netns, '127.0.0.12', hosts);
    floor = await startNodeFloor(netns, '127.0.0.13', VIP);

    const source = new MemorySource();
    dns = new EmbeddedDns({ source, log: quietLog(), upstreams: [] });
    source.set('bench', [
      record({ serviceName: NAME, taskId: 't1', ip: '10.0.1.5', vip: VIP }),
      record({ serviceName: NAME, taskId: 't2', ip: '10.0.1.6', vip: VIP }),
    ]);
    await dns.attachTask({
      taskId: 'bench',
      netnsPath: `/run/netns/${netns}`,
      networkIds: ['bench'],
      nameservers: [],
    });

    const pidCpu = (pid: number) => () => {
      const s = processCpuSeconds(pid);
      if (s === undefined) throw new Error(`pid ${pid} is gone`);
      return s;
    };
    // The resolver runs in this process; the bench's own work during a round (one spawn, one line read) is noise.
    const ownCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const here = { netns, expect: VIP };
    const servers: Server[] = [
      { label: 'embedded (127.0.0.11)', host: '127.0.0.11', cpu: ownCpu, ...here },
      { label: 'dnsmasq (127.0.0.12)', host: '127.0.0.12', cpu: pidCpu(dnsmasq.pid!), ...here },
      { label: 'Node floor (127.0.0.13)', host: '127.0.0.13', cpu: pidCpu(floor.pid), ...here },
    ];
    const viaNode: Generator = (server, seconds) =>
      nodeLoad({
        netns: server.netns,
        host: server.host,
        name: NAME,
        expect: server.expect,
        seconds,
        outstanding: NODE_OUTSTANDING,
        maxQueries: MAX_QUERIES,
      });
    const viaDnsperf: Generator = async (server, seconds) => {
      const r = await dnsperf({
        netns: server.netns,
        host: server.host,
        queryFile: queries,
        seconds,
        outstanding: DNSPERF_OUTSTANDING,
      });
      const avg = r.avgLatencyMs;
      return {
        qps: r.qps,
        p50: avg,
        p99: avg,
        lost: r.lost,
        bad: r.completed - r.noerror,
        answered: r.noerror,
      };
    };

    // Docker's own embedded DNS, in a swarm task's namespace: a fourth server when Docker starts here.
    try {
      docker = await startDockerDns(await writeBenchImage(dir), NAME);
      servers.push({
        label: 'Docker (task 127.0.0.11)',
        netns: docker.netns,
        host: '127.0.0.11',
        expect: docker.vip,
        cpu: docker.cpu,
      });
      await answering(servers[3]!, viaNode);
      console.log(
        `Docker ${docker.version}'s embedded DNS in a swarm task's namespace on an overlay, answering ${NAME} with its VIP ${docker.vip} (server CPU: dockerd's)`,
      );
    } catch (err) {
      console.log(
        `Docker's embedded DNS: not measured (${err instanceof Error ? err.message : String(err)})`,
      );
      if (servers.length > 3) servers.pop();
    }

    console.log(
      `A ${NAME} over UDP, ${ROUNDS} rounds of ${SECONDS} s per server and generator, order rotated (medians)`,
    );
    report(
      `Node load generator, ${NODE_OUTSTANDING} outstanding, every answer checked:`,
      servers,
      await rounds(servers, viaNode),
      'p50/p99',
    );
    report(`dnsperf, ${DNSPERF_OUTSTANDING} outstanding:`, servers, await rounds(servers, viaDnsperf), 'avg');
    console.log(`resolver stats: ${JSON.stringify(dns.stats())}`);
  } finally {
    await docker?.stop();
    await dns?.close();
    await floor?.stop();
    if (dnsmasq?.pid && dnsmasq.exitCode === null) {
      const exited = new Promise((r) => dnsmasq!.once('exit', r));
      dnsmasq.kill('SIGTERM');
      await exited;
    }
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
