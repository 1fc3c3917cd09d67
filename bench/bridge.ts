// Local bridge networks' cost, measured in one run on one machine (issue #20):
//  1. TCP throughput (iperf3) container → container on one swarmlite user-defined bridge, against two
//     namespaces of the bench's own joined by a plain veth pair (the floor: no bridge, no container).
//  2. HTTP requests/s (bench:mesh's generator) from a "host" namespace to a container's published port
//     (`run -d -p HOSTPORT:80`: the node's address, swarmlite's nftables DNAT) against the same
//     container straight by its IP (the same hops through the node, routed, no NAT). Goal: ≥ 0.9.
//  3. Docker's figures for the same two, where Docker runs here: bench/docker-peer.ts's confined dockerd
//     (no iptables, so its -p is served by docker-proxy, its userland proxy: that is what is measured,
//     and the output says so). What cannot run is printed as "not measured: <reason>".
// All paths alternate within each round (order rotated) so they see the same machine load.
//   npm run bench:bridge          (root; makes and removes its own namespaces, daemon and dockerd)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDaemonInNetns } from '../cli/test-cli.js';
import { waitForDaemon } from '../cli/test-daemon.js';
import { containerRuntime } from '../daemon/executor.js';
import { findTool, run } from '../lib/exec.js';
import { addNetns } from '../lib/netns-fixture.js';
import { processName, processRef, signalProcess, waitForExit } from '../lib/process.js';
import { swarmliteBin } from '../lib/repo.js';
import { median, roundOrder, roundRatio, runsText, underlayFor } from './bridge-figures.js';
import { writeBenchImage, BENCH_IMAGE } from './busybox-image.js';
import { startDockerPeer, type DockerPeer } from './docker-peer.js';
import { HTTP_LOAD, iperf3Client, type LoadResult } from './load-tools.js';
import { quiet } from './machine.js';

const TAG = `swlbb${randomBytes(2).toString('hex')}`;
const NODE = `${TAG}-node`;
const HOST = `${TAG}-host`;
const REF_A = `${TAG}-ra`;
const REF_B = `${TAG}-rb`;
const DOCKER_HOST = `${TAG}-dh`;
const NETWORK = 'benchnet';
const HOST_PORT = 8080;
const IPERF_PORT = 5201;
const IPERF_SECONDS = 5;
/** `-- --rounds N` (default 3 for iperf3, 5 for HTTP); `-- --hold` keeps everything up after the
 * figures until Ctrl-C, printing how to reach each path (to profile one by hand). */
const ARGS = parseArgs(process.argv.slice(2));
const IPERF_ROUNDS = ARGS.rounds ?? 3;
const HTTP_SECONDS = 3;
const HTTP_ROUNDS = ARGS.rounds ?? 5;
const CONCURRENCY = 32;
const net = underlayFor(parseInt(TAG.slice(-4), 16));

function parseArgs(argv: string[]): { rounds?: number; hold: boolean } {
  const out: { rounds?: number; hold: boolean } = { hold: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--hold') out.hold = true;
    else if (argv[i] === '--rounds') {
      const n = argv[++i] ?? '';
      if (!/^[1-9]\d{0,2}$/.test(n)) {
        console.error(`bench:bridge: --rounds takes a whole number from 1 to 999, not '${n}'`);
        process.exit(2);
      }
      out.rounds = Number(n);
    } else {
      console.error(`bench:bridge: unknown argument '${argv[i]}' (use --rounds N and --hold)`);
      process.exit(2);
    }
  }
  return out;
}

/** The container's web server, run in its network namespace on port 80: the same one for every path. */
const SERVER = `require('node:http').createServer((q, s) => s.end('ok')).listen(80, () => console.log('ready'));`;

/**
 * Clients on CPU 0, servers on CPU 1: left to the scheduler on this 2-core machine, the same path gave
 * 21k and 40k req/s in consecutive runs (client and server on one core or on two); pinned, every path
 * runs with the same placement. The packets' softirq work runs on the sending side's CPU (veth).
 */
const pinned = (cpu: 0 | 1) => (availableParallelism() >= 2 ? ['taskset', '-c', String(cpu)] : []);

/** Processes the bench started (servers), stopped by their pid at the end. */
const started: ChildProcess[] = [];

/** A long-running process entered into a namespace by nsenter (which execs: the child's pid is its). */
function spawnIn(enter: string[], argv: string[]): ChildProcess {
  const child = spawn(findTool('nsenter'), [...enter, '--', ...argv], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  child.on('error', () => undefined);
  started.push(child);
  return child;
}

/** A server that prints a line when it listens; resolves then. */
function startReady(enter: string[], argv: string[]): Promise<void> {
  const child = spawnIn(enter, argv);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${argv.join(' ').slice(0, 40)} exited (${code})`)));
  });
}

const inNetns = (name: string) => [`--net=/run/netns/${name}`];
const inPid = (pid: number) => ['-t', String(pid), '-n'];

/** The CLI against the bench's daemon; stdout. */
const swarmlite = (socket: string, args: string[]) =>
  run('node', [swarmliteBin(), '-H', `unix://${socket}`, ...args], { timeoutMs: 120_000 });

/** One HTTP GET by curl from a namespace: true when the server answered `ok`. */
async function answers(enter: string[], host: string, port: number): Promise<boolean> {
  const argv = [...enter, '--', 'curl', '-s', '-m', '3', `http://${host}:${port}/`];
  return (await run('nsenter', argv, { okCodes: [7, 28] }).catch(() => '')) === 'ok';
}

async function answersSoon(what: string, enter: string[], host: string, port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (await answers(enter, host, port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} (${host}:${port}) did not answer`);
}

async function veth(a: string, b: string, addrA: string, addrB: string, len = 30): Promise<void> {
  await run('ip', ['-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
  await run('ip', ['-n', a, 'addr', 'add', `${addrA}/${len}`, 'dev', 'eth0']);
  await run('ip', ['-n', b, 'addr', 'add', `${addrB}/${len}`, 'dev', 'eth0']);
  await run('ip', ['-n', a, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', b, 'link', 'set', 'eth0', 'up']);
}

/** A throughput path: where iperf3's client runs, and the server's address. */
interface TcpPath {
  name: string;
  enter: string[];
  server: string;
}

/** An HTTP path: where the load runs, and the address and port it asks. */
interface HttpPath {
  name: string;
  enter: string[];
  host: string;
  port: number;
  /** The source address of its requests (HTTP_LOAD's localAddress), when not the default. */
  from?: string;
}

/** The swarmlite side: a daemon in the node namespace, two containers on a bridge and a published one. */
interface SwarmliteSide {
  tcp: TcpPath;
  published: HttpPath;
  direct: HttpPath;
}

async function swarmliteSide(dir: string, imageFile: string, stop: (() => Promise<void>)[]) {
  const socket = join(dir, 'swl.sock');
  const data = join(dir, 'data');
  const exec = join(dir, 'exec');
  await addNetns(NODE);
  await addNetns(HOST);
  await veth(HOST, NODE, net.host, net.node, 29);
  await run('ip', ['-n', HOST, 'addr', 'add', `${net.hostDirect}/29`, 'dev', 'eth0']);
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: NODE });
  const daemon = spawnDaemonInNetns(NODE, dir, socket, TAG);
  daemon.on('error', () => undefined);
  stop.push(async () => {
    await swarmlite(socket, ['rm', '-f', 'c1', 'c2', 'web']).catch(() => undefined);
    const ref = daemon.pid === undefined ? undefined : processRef(daemon.pid);
    if (ref && signalProcess(ref, 'SIGTERM') && !(await waitForExit(ref, 30_000)))
      signalProcess(ref, 'SIGKILL');
    await containerRuntime(data, exec, TAG, hostname()).removeEverything();
  });
  await waitForDaemon(socket);
  await swarmlite(socket, ['image', 'load', '-q', '-i', imageFile]);
  await swarmlite(socket, ['network', 'create', NETWORK]);
  for (const name of ['c1', 'c2'])
    await swarmlite(socket, [
      'run',
      '-d',
      '--name',
      name,
      '--network',
      NETWORK,
      BENCH_IMAGE,
      'sleep',
      '3600',
    ]);
  await swarmlite(socket, [
    'run',
    '-d',
    '--name',
    'web',
    '--network',
    NETWORK,
    '-p',
    `${HOST_PORT}:80`,
    BENCH_IMAGE,
    'sleep',
    '3600',
  ]);
  const pidOf = async (name: string) =>
    Number(await swarmlite(socket, ['inspect', '-f', '{{.State.Pid}}', name]));
  const ipOf = async (name: string) =>
    (
      await swarmlite(socket, ['inspect', '-f', `{{.NetworkSettings.Networks.${NETWORK}.IPAddress}}`, name])
    ).trim();
  const [c1Ip, webIp] = [await ipOf('c1'), await ipOf('web')];
  const subnet = (
    JSON.parse(await swarmlite(socket, ['network', 'inspect', NETWORK])) as {
      IPAM: { Config: { Subnet: string }[] };
    }[]
  )[0]!.IPAM.Config[0]!.Subnet;
  spawnIn(inPid(await pidOf('c1')), [...pinned(1), 'iperf3', '-s', '-p', String(IPERF_PORT)]);
  await startReady(inPid(await pidOf('web')), [...pinned(1), process.execPath, '-e', SERVER]);
  // The direct path: the host routes the bridge's subnet through the node. swarmlite, like Docker 28,
  // drops what enters a bridge from outside unless it is a reply or was DNATed to a published port; one
  // accept rule for the server's address and port, first in its forward chain, lets the reference
  // through (the bench changes nothing else of the daemon's table, and it goes with the namespace).
  await run('ip', ['-n', HOST, 'route', 'add', subnet, 'via', net.node]);
  const tables = JSON.parse(await run('nft', ['-j', 'list', 'tables'], { netns: NODE })) as {
    nftables: { table?: { family: string; name: string } }[];
  };
  const table = tables.nftables
    .map((e) => e.table)
    .find((t) => t?.family === 'inet' && t.name.endsWith('_bridge'));
  if (!table) throw new Error(`no inet *_bridge table in ${NODE}`);
  await run(
    'nft',
    ['insert', 'rule', 'inet', table.name, 'forward', 'ip', 'daddr', webIp, 'tcp', 'dport', '80', 'accept'],
    { netns: NODE },
  );
  await answersSoon('swarmlite published port', inNetns(HOST), net.node, HOST_PORT);
  await answersSoon('swarmlite container by IP', inNetns(HOST), webIp, 80);
  const side: SwarmliteSide = {
    tcp: { name: 'swarmlite bridge c→c', enter: inPid(await pidOf('c2')), server: c1Ip },
    published: {
      name: `swarmlite -p ${HOST_PORT}:80`,
      enter: inNetns(HOST),
      host: net.node,
      port: HOST_PORT,
    },
    direct: {
      name: 'swarmlite container IP',
      enter: inNetns(HOST),
      host: webIp,
      port: 80,
      from: net.hostDirect,
    },
  };
  return side;
}

async function referencePair(): Promise<TcpPath> {
  await addNetns(REF_A);
  await addNetns(REF_B);
  await veth(REF_A, REF_B, net.refA, net.refB);
  spawnIn(inNetns(REF_B), [...pinned(1), 'iperf3', '-s', '-p', String(IPERF_PORT)]);
  return { name: 'veth pair (reference)', enter: inNetns(REF_A), server: net.refB };
}

/** Docker's side, or why it is not measured. */
type DockerSide =
  | { tcp: TcpPath; published?: HttpPath; publishedWhy?: string; direct: HttpPath; proxy: string }
  | { why: string };

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** Docker's side; any failure becomes its "not measured" reason (the swarmlite figures still print). */
async function dockerSide(
  imageFile: string,
  imageId: string,
  stop: (() => Promise<void>)[],
): Promise<DockerSide> {
  let peer: DockerPeer;
  try {
    peer = await startDockerPeer();
  } catch (err) {
    return { why: `the confined dockerd did not start: ${firstLine(err)}` };
  }
  stop.push(() => peer.stop());
  try {
    return await dockerPaths(peer, imageFile, imageId);
  } catch (err) {
    return { why: firstLine(err) };
  }
}

async function dockerPaths(peer: DockerPeer, imageFile: string, imageId: string): Promise<DockerSide> {
  try {
    await peer.docker(['load', '-q', '-i', imageFile], { timeoutMs: 300_000 });
    await peer.docker(['network', 'create', '-d', 'bridge', NETWORK]);
    for (const name of ['c1', 'c2'])
      await peer.docker(['run', '-d', '--name', name, '--network', NETWORK, imageId, 'sleep', '3600']);
  } catch (err) {
    return { why: `Docker's bridge network: ${firstLine(err)}` };
  }
  const pidOf = async (name: string) => Number(await peer.docker(['inspect', '-f', '{{.State.Pid}}', name]));
  const ipOf = async (name: string) =>
    (await peer.docker(['inspect', '-f', `{{.NetworkSettings.Networks.${NETWORK}.IPAddress}}`, name])).trim();
  spawnIn(inPid(await pidOf('c1')), [...pinned(1), 'iperf3', '-s', '-p', String(IPERF_PORT)]);
  const tcp: TcpPath = {
    name: 'Docker bridge c→c',
    enter: inPid(await pidOf('c2')),
    server: await ipOf('c1'),
  };
  // Its "host": a namespace of the bench's own with a veth into the peer's namespace.
  await addNetns(DOCKER_HOST);
  await run('ip', [
    '-n',
    DOCKER_HOST,
    'link',
    'add',
    'eth0',
    'type',
    'veth',
    'peer',
    'name',
    `${TAG}h`,
    'netns',
    peer.netns,
  ]);
  await run('ip', ['-n', DOCKER_HOST, 'addr', 'add', `${net.dockerHost}/30`, 'dev', 'eth0']);
  await run('ip', ['-n', peer.netns, 'addr', 'add', `${net.dockerSide}/30`, 'dev', `${TAG}h`]);
  await run('ip', ['-n', DOCKER_HOST, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', peer.netns, 'link', 'set', `${TAG}h`, 'up']);
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], { netns: peer.netns });
  const subnet = (
    await peer.docker(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', NETWORK])
  ).trim();
  await run('ip', ['-n', DOCKER_HOST, 'route', 'add', subnet, 'via', net.dockerSide]);
  let published: HttpPath | undefined;
  let publishedWhy: string | undefined;
  let proxy = 'none';
  try {
    await peer.docker([
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      NETWORK,
      '-p',
      `${HOST_PORT}:80`,
      imageId,
      'sleep',
      '3600',
    ]);
  } catch (err) {
    publishedWhy = `docker run -p ${HOST_PORT}:80 failed: ${firstLine(err)}`;
    await peer.docker(['run', '-d', '--name', 'web', '--network', NETWORK, imageId, 'sleep', '3600']);
  }
  const webIp = await ipOf('web');
  await startReady(inPid(await pidOf('web')), [...pinned(1), process.execPath, '-e', SERVER]);
  const direct: HttpPath = {
    name: 'Docker container IP',
    enter: inNetns(DOCKER_HOST),
    host: webIp,
    port: 80,
  };
  await answersSoon('Docker container by IP', direct.enter, webIp, 80);
  if (!publishedWhy) {
    // With --iptables=false Docker programs no DNAT: a published port is served by docker-proxy.
    const proxies = peer.processes().filter((p) => processName(p) === 'docker-proxy');
    proxy = proxies.length ? `docker-proxy (userland, pid ${proxies.join(', ')})` : 'no docker-proxy process';
    published = {
      name: `Docker -p ${HOST_PORT}:80`,
      enter: direct.enter,
      host: net.dockerSide,
      port: HOST_PORT,
    };
    if (!(await answers(published.enter, published.host, published.port).catch(() => false))) {
      await new Promise((r) => setTimeout(r, 2000));
      if (!(await answers(published.enter, published.host, published.port))) {
        publishedWhy = `nothing answered on ${net.dockerSide}:${HOST_PORT} (${proxy})`;
        published = undefined;
      }
    }
  }
  return { tcp, published, publishedWhy, direct, proxy };
}

async function tcpRounds(paths: TcpPath[]): Promise<Map<string, number[]>> {
  const out = new Map(paths.map((p) => [p.name, [] as number[]]));
  for (let round = 0; round < IPERF_ROUNDS; round++)
    for (const p of roundOrder(paths, round))
      out
        .get(p.name)!
        .push((await iperf3Client(p.enter, p.server, IPERF_PORT, IPERF_SECONDS, pinned(0))).gbps);
  return out;
}

async function httpRounds(
  paths: HttpPath[],
  mode: 'keepalive' | 'newconn',
): Promise<Map<string, LoadResult[]>> {
  const out = new Map(paths.map((p) => [p.name, [] as LoadResult[]]));
  for (let round = 0; round < HTTP_ROUNDS; round++)
    for (const p of roundOrder(paths, round)) {
      const args = [
        p.host,
        String(p.port),
        String(HTTP_SECONDS),
        String(CONCURRENCY),
        mode,
        ...(p.from ? [p.from] : []),
      ];
      const argv = [...p.enter, '--', ...pinned(0), process.execPath, '-e', HTTP_LOAD, ...args];
      const text = await run('nsenter', argv, { timeoutMs: (HTTP_SECONDS + 60) * 1000 });
      out.get(p.name)!.push(JSON.parse(text.trim()) as LoadResult);
    }
  return out;
}

/** Stops what the bench started, newest first, then removes its namespaces; idempotent. */
async function cleanup(stop: (() => Promise<void>)[], dir: string): Promise<void> {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  for (const s of stop.splice(0).reverse())
    await s().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  // The bench's namespaces, and any the daemon left with its prefix (its containers' are removed above).
  const mine = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(TAG)) : [];
  for (const name of mine) await run('ip', ['netns', 'del', name], { okIfAbsent: true });
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs a phase after waiting for the machine to be quiet (machine.ts), and says what that wait found:
 * the machine is shared (other sessions' builds and labs), and a phase started on a busy machine
 * explains figures that move between runs. (The share of CPU busy during a phase says nothing: the
 * bench itself keeps both cores busy.)
 */
async function phase<T>(measure: () => Promise<T>): Promise<{ result: T; note: string }> {
  const waited = await quiet();
  return { result: await measure(), note: `machine before the phase: waited ${waited}` };
}

const gbps = (x: number) => `${x.toFixed(2).padStart(6)} Gbit/s`;
const rpsText = (r: LoadResult[]) =>
  `${median(r.map((x) => x.rps))
    .toFixed(0)
    .padStart(6)} req/s   p99 ${median(r.map((x) => x.p99))
    .toFixed(2)
    .padStart(6)} ms   errors ${r.reduce((n, x) => n + x.errors, 0)}   runs ${runsText(
    r.map((x) => x.rps),
    0,
  )}`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:bridge needs root (it builds network namespaces)');
  for (const tool of ['iperf3', 'curl', 'nsenter', 'nft']) findTool(tool);
  const dir = mkdtempSync(join(tmpdir(), `${TAG}-`));
  const stop: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  const clean = () => (cleaning ??= cleanup(stop, dir));
  process.once('SIGINT', () => void clean().finally(() => process.exit(130)));
  try {
    const image = await writeBenchImage(dir);
    const swl = await swarmliteSide(dir, image.file, stop);
    const ref = await referencePair();
    const docker = await dockerSide(image.file, image.id, stop);

    const tcpPaths = [swl.tcp, ref, ...('tcp' in docker ? [docker.tcp] : [])];
    console.log(
      `bridge: TCP throughput, iperf3 ${IPERF_SECONDS} s × ${IPERF_ROUNDS} rounds (order rotated), median`,
    );
    const tcpPhase = await phase(() => tcpRounds(tcpPaths));
    const tcp = tcpPhase.result;
    console.log(`  ${tcpPhase.note}`);
    const tcpRow = (p: TcpPath) =>
      console.log(
        `  ${p.name.padEnd(26)} ${gbps(median(tcp.get(p.name)!))}   runs ${runsText(tcp.get(p.name)!, 2)}`,
      );
    tcpPaths.forEach(tcpRow);
    const refRuns = tcp.get(ref.name)!;
    console.log(
      `  swarmlite/veth: ${roundRatio(tcp.get(swl.tcp.name)!, refRuns).toFixed(2)} (median of per-round ratios)`,
    );
    if ('tcp' in docker) {
      const d = tcp.get(docker.tcp.name)!;
      console.log(`  Docker/veth:    ${roundRatio(d, refRuns).toFixed(2)}`);
      console.log(`  swarmlite/Docker: ${roundRatio(tcp.get(swl.tcp.name)!, d).toFixed(2)}`);
    } else console.log(`  Docker bridge c→c: not measured: ${docker.why}`);

    const httpPaths = [
      swl.published,
      swl.direct,
      ...('tcp' in docker ? [...(docker.published ? [docker.published] : []), docker.direct] : []),
    ];
    console.log(
      `bridge: HTTP from a host namespace, ${CONCURRENCY} concurrent clients, ${HTTP_SECONDS} s × ${HTTP_ROUNDS} rounds (order rotated), median`,
    );
    if ('tcp' in docker)
      console.log(
        `  Docker here: confined dockerd with --iptables=false, so -p is served by ${docker.proxy}, not DNAT`,
      );
    for (const mode of ['keepalive', 'newconn'] as const) {
      const httpPhase = await phase(() => httpRounds(httpPaths, mode));
      const http = httpPhase.result;
      console.log(`  ${mode === 'keepalive' ? 'keep-alive connections' : 'a new connection per request'}:`);
      console.log(`    ${httpPhase.note}`);
      for (const p of httpPaths) console.log(`    ${p.name.padEnd(24)} ${rpsText(http.get(p.name)!)}`);
      const rps = (p: HttpPath) => http.get(p.name)!.map((x) => x.rps);
      console.log(
        `    swarmlite published/direct: ${roundRatio(rps(swl.published), rps(swl.direct)).toFixed(2)} (median of per-round ratios; goal ≥ 0.9)`,
      );
      if (!('tcp' in docker)) console.log(`    Docker: not measured: ${docker.why}`);
      else if (!docker.published) console.log(`    Docker -p: not measured: ${docker.publishedWhy}`);
      else {
        console.log(
          `    Docker published/direct:    ${roundRatio(rps(docker.published), rps(docker.direct)).toFixed(2)} (docker-proxy)`,
        );
        console.log(
          `    swarmlite -p / Docker -p:   ${roundRatio(rps(swl.published), rps(docker.published)).toFixed(2)}`,
        );
      }
    }
    if (ARGS.hold) {
      for (const p of [...tcpPaths, ...httpPaths])
        console.log(
          `  hold: ${p.name}: nsenter ${p.enter.join(' ')} -- ... ${'host' in p ? `${p.host}:${p.port}` : p.server}`,
        );
      console.log('  hold: Ctrl-C to clean up');
      await new Promise(() => undefined);
    }
  } finally {
    await clean();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
