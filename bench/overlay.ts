// The overlay's cost and speed on a real cluster: a 5-host lab (1 manager, 4 workers), one overlay network.
//  1. Throughput: iperf3 between two tasks on node2 and node3 over the overlay (veth → br0 → vxlan0 →
//     underlay → vxlan0 → br0 → veth), against iperf3 between the same two hosts on the underlay,
//     alternated in the same run so both see the same machine load. Goal: overlay/underlay ≥ 0.65.
//  2. Endpoint programming: a new task on node5, and the time until nodes 1-4 (each with a task on the
//     network, so each has a sandbox) hold its neighbor entry on vxlan0. Goal: under 1 s.
//  3. Endpoint removal: each of those tasks removed (from the remove call), and node5 leaving the swarm
//     (from the leave call), until no other node holds their neighbor entries. Goal: under 1 s after the
//     task is reported stopped, and 1 s after the leave returned (the e2e test asserts only that they go).
//  With --encrypted, a second network with `--opt encrypted` and its own iperf3 pair on node2 and
//  node3: each round runs plain overlay, encrypted overlay and underlay in turn (node3's ESP SA byte
//  counters prove the encrypted runs crossed ESP). Needs a kernel with IPsec ESP (not the development
//  machine's: run it in a VM).
//   npm run bench:overlay [-- --encrypted]   (root; makes and removes its own lab)
import { spawn } from 'node:child_process';
import { labDown, labUp } from '../deploy/lab/lab.js';
import { withDaemon, type LocalCalls } from '../daemon/client.js';
import { findTool, run } from '../lib/exec.js';
import type { LabHostState } from '../deploy/lab/state.js';
import { networkView, taskView, type TaskView } from '../cli/objects.js';
import { macFromIp, sandboxName } from '../worker/network/overlay/names.js';
import { probeEsp } from '../lib/esp.js';

const NODES = 5;
const LAB = `bov${process.pid % 10_000}`;
const NETWORK = 'appnet';
const ENCRYPTED_NETWORK = 'appnet-enc';
const ENCRYPTED = process.argv.includes('--encrypted');
const IPERF_SECONDS = 5;
const IPERF_ROUNDS = 3;
const ENDPOINT_RUNS = 3;
/** The underlay server's port: the overlay server is the task's own iperf3 on the default 5201. */
const UNDERLAY_PORT = 5202;
const POLL_MS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ipOf = (t: TaskView) => t.networks[0]?.addresses[0]?.split('/')[0];

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

interface Placement {
  constraint?: string;
  global?: boolean;
  network?: string;
}

/** Each call's deadline. */
const CALL_MS = 30_000;

/** The manager's local API over one connection for the whole bench (polling opens no new ones). */
function managerApi(calls: LocalCalls) {
  const service = (name: string, command: string[], where: Placement) =>
    calls.createService(
      {
        spec: {
          name,
          task: {
            image: 'host',
            command,
            networks: [{ target: where.network ?? NETWORK }],
            ...(where.constraint ? { placement: { constraints: [where.constraint] } } : {}),
          },
          ...(where.global ? { global: {} } : { replicated: { replicas: 1 } }),
        },
      },
      CALL_MS,
    );
  return {
    calls,
    tasks: async (svc: string) => (await calls.listTasks({ service: svc }, CALL_MS)).tasks.map(taskView),
    pinned: (name: string, command: string[], hostname: string, network?: string) =>
      service(name, command, { constraint: `node.hostname==${hostname}`, ...(network ? { network } : {}) }),
    global: (name: string, command: string[]) => service(name, command, { global: true }),
  };
}
type ManagerApi = ReturnType<typeof managerApi>;

/** The running tasks of a service once there are `count` of them, each with its overlay address. */
function runningTasks(api: ManagerApi, svc: string, count: number): Promise<TaskView[]> {
  return until(`${count} running task(s) of ${svc}`, async () => {
    const live = (await api.tasks(svc)).filter((t) => t.status.state === 'running' && ipOf(t));
    return live.length === count ? live : undefined;
  });
}

/** The IPs a host's sandbox for the network has neighbor entries for (none when there is no sandbox). */
async function neighbors(host: LabHostState, vni: number): Promise<Set<string>> {
  const sandbox = sandboxName(host.prefix, vni);
  const out = await run('ip', ['-n', sandbox, '-j', 'neigh', 'show', 'dev', 'vxlan0']).catch(
    (err: unknown) => {
      // Until the node's first task on the network is plugged in, there is no sandbox to look into.
      if (/Cannot open network namespace|does not exist/i.test(String(err))) return '[]';
      throw err;
    },
  );
  return new Set((JSON.parse(out || '[]') as { dst: string }[]).map((e) => e.dst));
}

/** The VTEP a host's sandbox forwards a MAC to (its static FDB entry on vxlan0), if any. */
async function fdbDestination(host: LabHostState, vni: number, mac: string): Promise<string | undefined> {
  const out = await run('bridge', [
    '-n',
    sandboxName(host.prefix, vni),
    '-j',
    'fdb',
    'show',
    'dev',
    'vxlan0',
  ]);
  const entries = JSON.parse(out || '[]') as { mac: string; dst?: string }[];
  return entries.find((e) => e.mac === mac && e.dst)?.dst;
}

/** iperf3's client, in the network namespace of `pid`: the receiver's rate and the bytes sent. */
async function iperfClient(
  pid: number,
  server: string,
  port: number,
): Promise<{ gbps: number; bytes: number }> {
  const args = ['-t', String(pid), '-n', findTool('iperf3'), '-c', server, '-p', String(port)];
  const argv = [...args, '-t', String(IPERF_SECONDS), '-O', '1', '-J'];
  type Report = {
    error?: string;
    end: { sum_received: { bits_per_second: number }; sum_sent: { bytes: number } };
  };
  const report = await until(
    `iperf3 to ${server}:${port}`,
    async () => {
      // With -J, iperf3 reports its errors in the JSON (exit 1), not on stderr.
      const out = await run('nsenter', argv, { okCodes: [1], timeoutMs: (IPERF_SECONDS + 30) * 1000 });
      const r = JSON.parse(out) as Report;
      if (!r.error) return r;
      // The server may not listen yet right after it started; anything else is a real failure.
      if (/connection refused/i.test(r.error)) return undefined;
      throw new Error(`iperf3 to ${server}:${port}: ${r.error}`);
    },
    10_000,
  );
  return { gbps: report.end.sum_received.bits_per_second / 1e9, bytes: report.end.sum_sent.bytes };
}

/** Bytes a host's sandbox sent out of vxlan0: proof the overlay runs crossed the VXLAN device. */
async function vxlanTxBytes(host: LabHostState, vni: number): Promise<number> {
  const out = await run('ip', ['-n', sandboxName(host.prefix, vni), '-j', '-s', 'link', 'show', 'vxlan0']);
  return (JSON.parse(out) as { stats64: { tx: { bytes: number } } }[])[0]!.stats64.tx.bytes;
}

/** A long-lived process in a host's namespace, killed by its pid when the bench is done with it. */
function spawnInHost(host: LabHostState, argv: string[]) {
  const child = spawn(findTool('ip'), ['netns', 'exec', host.netns, ...argv], { stdio: 'ignore' });
  child.on('error', () => {});
  return { pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

/**
 * Bytes through a host's ESP SAs (`ip -s xfrm state`: each SA's `lifetime current: N(bytes)`), both
 * ways: proof the encrypted runs were encrypted.
 */
async function espBytes(host: LabHostState): Promise<number> {
  const out = await run('ip', ['-n', host.netns, '-s', 'xfrm', 'state', 'list']);
  return [...out.matchAll(/(\d+)\(bytes\)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

interface Throughput {
  overlayGbps: number[];
  underlayGbps: number[];
  /** --encrypted: the same pair of nodes over the encrypted network, and what crossed node3's SAs. */
  encryptedGbps: number[];
  encryptedBytes: number;
  espBytes: number;
  /** What iperf3 sent over the overlay, and what node3's vxlan0 sent meanwhile (headers included). */
  overlayBytes: number;
  vxlanBytes: number;
}

async function throughput(api: ManagerApi, lab: LabHostState[], vni: number): Promise<Throughput> {
  const [node2, node3] = [lab[1]!, lab[2]!];
  await api.pinned('ipf-server', ['iperf3', '-s'], node2.hostname);
  await api.pinned('ipf-client', ['sleep', 'infinity'], node3.hostname);
  const [server] = await runningTasks(api, 'ipf-server', 1);
  const [client] = await runningTasks(api, 'ipf-client', 1);
  let encrypted: { server: TaskView; client: TaskView } | undefined;
  if (ENCRYPTED) {
    await api.pinned('ipf-server-enc', ['iperf3', '-s'], node2.hostname, ENCRYPTED_NETWORK);
    await api.pinned('ipf-client-enc', ['sleep', 'infinity'], node3.hostname, ENCRYPTED_NETWORK);
    encrypted = {
      server: (await runningTasks(api, 'ipf-server-enc', 1))[0]!,
      client: (await runningTasks(api, 'ipf-client-enc', 1))[0]!,
    };
  }
  const underlayServer = spawnInHost(node2, [findTool('iperf3'), '-s', '-p', String(UNDERLAY_PORT)]);
  // The client's own host namespace: any process in it will do, and its daemon is one.
  const node3Daemon = node3.daemon?.pid;
  if (!node3Daemon) throw new Error('node3 has no daemon pid in the lab state');
  const result: Throughput = {
    overlayGbps: [],
    underlayGbps: [],
    overlayBytes: 0,
    vxlanBytes: 0,
    encryptedGbps: [],
    encryptedBytes: 0,
    espBytes: 0,
  };
  try {
    for (let round = 0; round < IPERF_ROUNDS; round++) {
      const before = await vxlanTxBytes(node3, vni);
      const overlay = await iperfClient(client!.status.pid!, ipOf(server!)!, 5201);
      result.vxlanBytes += (await vxlanTxBytes(node3, vni)) - before;
      result.overlayBytes += overlay.bytes;
      result.overlayGbps.push(overlay.gbps);
      if (encrypted) {
        const esp = await espBytes(node3);
        const enc = await iperfClient(encrypted.client.status.pid!, ipOf(encrypted.server)!, 5201);
        result.espBytes += (await espBytes(node3)) - esp;
        result.encryptedBytes += enc.bytes;
        result.encryptedGbps.push(enc.gbps);
      }
      result.underlayGbps.push((await iperfClient(node3Daemon, node2.address, UNDERLAY_PORT)).gbps);
    }
  } finally {
    underlayServer.stop();
  }
  // A task-to-task figure that never crossed vxlan0 would be a second underlay figure, not the overlay's.
  if (result.vxlanBytes < result.overlayBytes)
    throw new Error(
      `node3's vxlan0 sent ${result.vxlanBytes} bytes, fewer than iperf3's ${result.overlayBytes}: the traffic took another path`,
    );
  if (encrypted && result.espBytes < result.encryptedBytes)
    throw new Error(
      `node3's ESP SAs carried ${result.espBytes} bytes, fewer than iperf3's ${result.encryptedBytes}: the encrypted runs were not encrypted`,
    );
  return result;
}

interface EndpointRun {
  /** From the create call: the task's address in the store, its leg on node5, running reported. */
  addressMs: number;
  legMs: number;
  runningMs: number;
  /** When each of nodes 1-4 first held the neighbor entry, from the create call. */
  programmedMs: number[];
}

/** Whether a host's sandbox has the task's finished veth end (its alias names the task). */
async function hasLeg(host: LabHostState, vni: number, taskId: string): Promise<boolean> {
  const out = await run('ip', ['-n', sandboxName(host.prefix, vni), '-j', 'link', 'show', 'master', 'br0']);
  const links = JSON.parse(out || '[]') as { ifalias?: string }[];
  return links.some((l) => l.ifalias?.includes(`task=${taskId} `));
}

/** One new task pinned to node5; watched in the store and in the sandboxes of all 5 nodes at once. */
async function endpointRun(
  api: ManagerApi,
  lab: LabHostState[],
  vni: number,
  i: number,
): Promise<EndpointRun> {
  const node5 = lab[NODES - 1]!;
  const others = lab.slice(0, NODES - 1);
  const name = `ep${i}`;
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  await api.pinned(name, ['sleep', 'infinity'], node5.hostname);
  let addressMs: number | undefined;
  let task: { id: string; ip: string } | undefined;
  const running = until(`${name} running`, async () => {
    const t = (await api.tasks(name))[0];
    if (t && ipOf(t) && !task) {
      addressMs = since();
      task = { id: t.id, ip: ipOf(t)! };
    }
    return t?.status.state === 'running' ? since() : undefined;
  });
  const known = until(`${name}'s address in the store`, async () => task);
  const leg = known.then(({ id }) =>
    until(`${name}'s leg on node5`, async () => ((await hasLeg(node5, vni, id)) ? since() : undefined)),
  );
  const programmed = known.then(({ ip }) =>
    Promise.all(
      others.map((host) =>
        until(`${host.hostname}'s neighbor entry for ${ip}`, async () =>
          (await neighbors(host, vni)).has(ip) ? since() : undefined,
        ),
      ),
    ),
  );
  const [runningMs, legMs, programmedMs] = await Promise.all([running, leg, programmed]);
  // The neighbor entry is written after the FDB entry; check the FDB points at node5 all the same.
  for (const host of others) {
    const dst = await fdbDestination(host, vni, macFromIp(task!.ip));
    if (dst !== node5.address)
      throw new Error(
        `${host.hostname}: FDB entry for ${task!.ip} goes to ${dst ?? 'nowhere'}, not ${node5.address}`,
      );
  }
  return { addressMs: addressMs!, legMs, runningMs, programmedMs };
}

interface Removal {
  what: string;
  /** From the remove (or leave) call until the last of nodes 1-4 dropped the entries. */
  goneMs: number;
  /** From the call's return (the task reported stopped, the leave done) until then. */
  afterReturnMs: number;
}

/** Until none of `hosts` holds a neighbor entry for any of `ips`; ms from `t0`. */
async function entriesGone(hosts: LabHostState[], vni: number, ips: string[], t0: number): Promise<number> {
  return until(`entries for ${ips.join(' ')} gone`, async () => {
    const held = await Promise.all(hosts.map((h) => neighbors(h, vni)));
    return held.every((n) => ips.every((ip) => !n.has(ip))) ? performance.now() - t0 : undefined;
  });
}

/** The endpoint runs' services removed one by one, then node5 leaves; each timed until its entries go. */
async function removals(api: ManagerApi, lab: LabHostState[], vni: number): Promise<Removal[]> {
  const node5 = lab[NODES - 1]!;
  const others = lab.slice(0, NODES - 1);
  const out: Removal[] = [];
  for (let i = 1; i <= ENDPOINT_RUNS; i++) {
    const name = `ep${i}`;
    const [task] = await api.tasks(name);
    const ip = task && ipOf(task);
    if (!ip) throw new Error(`${name} has no address`);
    const t0 = performance.now();
    await api.calls.removeService({ ref: name }, CALL_MS);
    const returned = performance.now();
    const goneMs = await entriesGone(others, vni, [ip], t0);
    out.push({ what: `${name} removed`, goneMs, afterReturnMs: goneMs - (returned - t0) });
  }
  const mine = (await api.tasks('mesh')).filter((t) => t.nodeId && ipOf(t));
  const node5Id = (await withDaemon(`unix://${node5.socket}`, (c) => c.info({}, 30_000))).nodeId;
  const ips = mine.filter((t) => t.nodeId === node5Id).map((t) => ipOf(t)!);
  if (ips.length === 0) throw new Error('node5 runs no mesh task');
  const t0 = performance.now();
  await withDaemon(`unix://${node5.socket}`, (c) => c.leave({ force: false }, 60_000));
  const returned = performance.now();
  const goneMs = await entriesGone(others, vni, ips, t0);
  out.push({ what: 'node5 left', goneMs, afterReturnMs: goneMs - (returned - t0) });
  return out;
}

async function bench(
  lab: LabHostState[],
): Promise<{ tp: Throughput; endpoints: EndpointRun[]; removed: Removal[] }> {
  return withDaemon(`unix://${lab[0]!.socket}`, async (calls) => {
    const api = managerApi(calls);
    const spec = {
      name: NETWORK,
      driver: 'overlay',
      ipam: [],
      attachable: false,
      internal: false,
      ingress: false,
    };
    await calls.createNetwork({ spec }, CALL_MS);
    if (ENCRYPTED)
      await calls.createNetwork(
        { spec: { ...spec, name: ENCRYPTED_NETWORK, options: { encrypted: '' } } },
        CALL_MS,
      );
    // The allocator gives the network its VNI a moment after the create: the sandbox names carry it.
    const network = await until('appnet allocated', async () => {
      const n = networkView((await calls.getNetwork({ ref: NETWORK }, CALL_MS)).network);
      return n.vni > 0 ? n : undefined;
    });
    // A task on every node, so every node has the network's sandbox before anything is measured.
    await api.global('mesh', ['sleep', 'infinity']);
    const mesh = await runningTasks(api, 'mesh', NODES);
    // Each node's vxlan0 holds the 4 remote mesh tasks (its own task sits on br0, not behind vxlan0).
    const meshIps = mesh.map((t) => ipOf(t)!);
    await until("every node holding the other nodes' mesh tasks", async () => {
      const held = await Promise.all(lab.map((host) => neighbors(host, network.vni)));
      return held.every((h) => meshIps.filter((ip) => h.has(ip)).length === NODES - 1) || undefined;
    });
    const tp = await throughput(api, lab, network.vni);
    const endpoints: EndpointRun[] = [];
    for (let i = 1; i <= ENDPOINT_RUNS; i++) endpoints.push(await endpointRun(api, lab, network.vni, i));
    const removed = await removals(api, lab, network.vni);
    return { tp, endpoints, removed };
  });
}

function report(tp: Throughput, endpoints: EndpointRun[], removed: Removal[]): void {
  const gbps = (x: number) => `${x.toFixed(2).padStart(6)} Gbit/s`;
  const runs = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  const overlay = median(tp.overlayGbps);
  const underlay = median(tp.underlayGbps);
  // Each round pairs one overlay and one underlay run seconds apart, under the same load from whatever
  // else the machine runs: the median of those paired ratios is steadier than a ratio of medians.
  const ratios = tp.overlayGbps.map((o, i) => o / tp.underlayGbps[i]!);
  const ratio = median(ratios);
  const gb = (b: number) => (b / 1e9).toFixed(1);
  console.log(`  iperf3 node3 → node2, ${IPERF_SECONDS} s each, ${IPERF_ROUNDS} alternating rounds, median:`);
  console.log(`    task → task over ${NETWORK}      ${gbps(overlay)}   runs ${runs(tp.overlayGbps)}`);
  console.log(`    host → host on the underlay  ${gbps(underlay)}   runs ${runs(tp.underlayGbps)}`);
  console.log(
    `    ratio (median of the rounds' ${runs(ratios)}) ${ratio.toFixed(2)}   goal ≥ 0.65: ${ratio >= 0.65 ? 'met' : 'MISSED'}`,
  );
  if (tp.encryptedGbps.length > 0) {
    const enc = tp.encryptedGbps.map((e, i) => e / tp.overlayGbps[i]!);
    console.log(
      `    task → task over ${ENCRYPTED_NETWORK}  ${gbps(median(tp.encryptedGbps))}   runs ${runs(tp.encryptedGbps)}`,
    );
    console.log(
      `    encrypted / plain overlay (median of the rounds' ${runs(enc)}) ${median(enc).toFixed(2)}`,
    );
    console.log(
      `    node3's ESP SAs carried ${gb(tp.espBytes)} GB during the encrypted runs (iperf3 counted ${gb(tp.encryptedBytes)} GB)`,
    );
  }
  console.log(
    `    node3's vxlan0 sent ${gb(tp.vxlanBytes)} GB during the overlay runs (iperf3 counted ${gb(tp.overlayBytes)} GB)`,
  );
  console.log(`  a new task on node5 → its neighbor entry on vxlan0 in nodes 1-4 (ms from service create):`);
  const fromAddress: number[] = [];
  for (const [i, r] of endpoints.entries()) {
    const last = Math.max(...r.programmedMs);
    fromAddress.push(last - r.addressMs);
    console.log(
      `    run ${i + 1}: address ${r.addressMs.toFixed(0)}, leg on node5 ${r.legMs.toFixed(0)}, ` +
        `running ${r.runningMs.toFixed(0)}, on nodes 1-4 ${r.programmedMs.map((x) => x.toFixed(0)).join('/')}` +
        ` → address to all 4: ${(last - r.addressMs).toFixed(0)} ms, node5's own leg to all 4: ${(last - r.legMs).toFixed(0)} ms`,
    );
  }
  console.log(
    `    (node5 announces the address in gossip before it builds its own leg, so the last figure can be < 0)`,
  );
  const m = median(fromAddress);
  console.log(
    `    median, address known → programmed on every node: ${m.toFixed(0)} ms   goal < 1 s: ${m < 1000 ? 'met' : 'MISSED'}`,
  );
  console.log(`  entries leaving nodes 1-4 (ms from the call; after it returned, goal < 1 s):`);
  for (const r of removed)
    console.log(
      `    ${r.what.padEnd(12)} ${r.goneMs.toFixed(0).padStart(6)}   after return ${r.afterReturnMs.toFixed(0).padStart(6)}` +
        `   ${r.afterReturnMs < 1000 ? 'met' : 'MISSED'}`,
    );
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/overlay needs root (namespaces, cgroups)');
  findTool('iperf3');
  if (ENCRYPTED) {
    const esp = await probeEsp();
    if (!esp.esp)
      throw new Error(
        `--encrypted needs a kernel with IPsec ESP (run it in a VM); this one said: ${esp.detail}`,
      );
  }
  console.log(
    `overlay: a ${NODES}-host lab (1 manager, ${NODES - 1} workers), overlay network ${NETWORK}` +
      (ENCRYPTED ? ` and encrypted ${ENCRYPTED_NETWORK}` : ''),
  );
  let result: Awaited<ReturnType<typeof bench>>;
  try {
    const lab = await labUp({ name: LAB, nodes: NODES, managers: 1 });
    result = await bench(lab.hosts);
  } finally {
    await labDown(LAB);
  }
  report(result.tp, result.endpoints, result.removed);
}

await main();
