// The routing mesh's cost: HTTP requests/s and p99 latency from a client namespace to a task
// through the mesh (node address, published port 5000, the mesh's nftables DNAT + masquerade)
// against the same task straight by its IP (the same hops through the same node, routed, no NAT),
// alternated in the same run so both see the same machine load. The mesh has that one task as its
// only backend so both paths end at the same server. Two load shapes: keep-alive connections (NAT
// decided once per connection, conntrack on every packet) and a new connection per request (NAT on
// every request). Goal: mesh/direct ≥ 0.9. Then the time to render and apply (`nft -f`) a ruleset
// of 1,000 published services with 3 backends each, and a VIP table of 1,000 services. Goal: < 1 s.
//   npm run bench:mesh          (root; builds and removes its own namespaces)
import { run } from '../lib/exec.js';
import { MeshApplier, type Namespace } from '../ingress/apply.js';
import { renderIngressTable, renderVipTable } from '../ingress/model.js';
import { BACKEND_PORT, MeshTestNet, TASK_SUBNET } from '../ingress/test-net.js';
import type { Backend, PublishedPort, ServiceVip } from '../ingress/types.js';
import { HTTP_LOAD as LOAD, type LoadResult } from './load-tools.js';

const SECONDS = 3;
const ROUNDS = 5;
const CONCURRENCY = 32;
const SYNC_SERVICES = 1000;
const SYNC_RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function loadRounds(net: MeshTestNet, mode: 'keepalive' | 'newconn') {
  const target = net.tasks[0];
  const mesh: LoadResult[] = [];
  const direct: LoadResult[] = [];
  const args = (host: string, port: number) => [
    host,
    String(port),
    String(SECONDS),
    String(CONCURRENCY),
    mode,
  ];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so a load change on this shared machine does not favour one.
    const pair = [
      async () =>
        direct.push(await net.runScript<LoadResult>(net.client, LOAD, args(target.address, BACKEND_PORT))),
      async () => mesh.push(await net.runScript<LoadResult>(net.client, LOAD, args(net.nodeAddress, 5000))),
    ];
    if (round % 2) pair.reverse();
    for (const step of pair) await step();
  }
  const summary = (rs: LoadResult[]) => ({
    rps: median(rs.map((r) => r.rps)),
    p99: median(rs.map((r) => r.p99)),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    runs: rs.map((r) => Math.round(r.rps)).join(' / '),
  });
  // Each round's ratio compares two runs seconds apart; their median is steadier than a ratio of medians.
  const ratio = median(mesh.map((m, i) => m.rps / direct[i].rps));
  return { mesh: summary(mesh), direct: summary(direct), ratio };
}

function syntheticServices(count: number) {
  const published: PublishedPort[] = [];
  const vips: ServiceVip[] = [];
  const backends: Backend[] = [];
  for (let i = 0; i < count; i++) {
    const serviceId = `svc${String(i).padStart(4, '0')}`;
    published.push({ protocol: i % 2 ? 'udp' : 'tcp', publishedPort: 20000 + i, targetPort: 80, serviceId });
    vips.push({ serviceId, networkId: 'appnet', address: `10.${100 + (i >> 8)}.${i & 255}.2` });
    for (let b = 0; b < 3; b++) {
      const address = `10.255.${(i * 3 + b) >> 8}.${(i * 3 + b) & 255}`;
      backends.push({ serviceId, networkId: 'ingress', address });
      backends.push({ serviceId, networkId: 'appnet', address: `10.${150 + (i >> 8)}.${i & 255}.${10 + b}` });
    }
  }
  return { published, vips, backends };
}

async function syncTimes(net: MeshTestNet) {
  const applier = new MeshApplier({ prefix: net.tag, minIntervalMs: 0 });
  const node: Namespace = { kind: 'named', name: net.node };
  const { published, vips, backends } = syntheticServices(SYNC_SERVICES);
  const runs: { render: number; apply: number; kind: string }[] = [];
  for (let i = 0; i < SYNC_RUNS; i++) {
    for (const kind of ['ingress', 'vips']) {
      // Drop one backend of this table's network per run so every apply is a real change, not
      // skipped as unchanged (backends alternate ingress, appnet).
      const live = backends.filter((_, j) => j !== i * 2 + (kind === 'ingress' ? 0 : 1));
      const t0 = performance.now();
      const table =
        kind === 'ingress'
          ? renderIngressTable({ prefix: net.tag, ingressNetworkId: 'ingress', published, backends: live })
          : renderVipTable({ prefix: net.tag, networkIds: ['appnet'], vips, backends: live });
      const t1 = performance.now();
      await applier.apply(table, node);
      runs.push({ kind, render: t1 - t0, apply: performance.now() - t1 });
    }
  }
  await applier.removeAll(node);
  const of = (kind: string, key: 'render' | 'apply') =>
    median(runs.filter((r) => r.kind === kind).map((r) => r[key]));
  return {
    ingress: { render: of('ingress', 'render'), apply: of('ingress', 'apply') },
    vips: { render: of('vips', 'render'), apply: of('vips', 'apply') },
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:mesh needs root (it builds network namespaces)');
  const net = new MeshTestNet();
  const cleanup = () => void net.destroy();
  process.once('SIGINT', cleanup);
  try {
    await net.build(1);
    // The direct path: the client routes to the task subnet through the node, no NAT on the way.
    await run('ip', ['-n', net.client, 'route', 'add', `${TASK_SUBNET}.0/24`, 'via', net.nodeAddress]);
    const applier = new MeshApplier({ prefix: net.tag });
    await applier.apply(
      renderIngressTable({
        prefix: net.tag,
        ingressNetworkId: 'ingress',
        published: [{ protocol: 'tcp', publishedPort: 5000, targetPort: BACKEND_PORT, serviceId: 'web' }],
        backends: [{ serviceId: 'web', networkId: 'ingress', address: net.tasks[0].address }],
      }),
      { kind: 'named', name: net.node },
    );
    console.log(
      `mesh: client → node (nftables mesh) → task, ${CONCURRENCY} concurrent clients, ${SECONDS} s × ${ROUNDS} alternating rounds, median`,
    );
    for (const mode of ['keepalive', 'newconn'] as const) {
      const { mesh, direct, ratio } = await loadRounds(net, mode);
      const label = mode === 'keepalive' ? 'keep-alive connections' : 'a new connection per request';
      console.log(`  ${label}:`);
      const row = (name: string, r: typeof mesh) =>
        console.log(
          `    ${name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s   p99 ${r.p99.toFixed(2).padStart(6)} ms   errors ${r.errors}   runs ${r.runs}`,
        );
      row('through the mesh :5000', mesh);
      row('straight to task IP', direct);
      console.log(
        `    mesh/direct: req/s ${ratio.toFixed(2)} (median of per-round ratios; goal ≥ 0.9), p99 ${(mesh.p99 / direct.p99).toFixed(2)}×`,
      );
    }
    const sync = await syncTimes(net);
    console.log(
      `  ruleset sync, ${SYNC_SERVICES} services × 3 backends, median of ${SYNC_RUNS} (goal < 1 s):`,
    );
    console.log(
      `    published ports  render ${sync.ingress.render.toFixed(1)} ms + nft -f ${sync.ingress.apply.toFixed(1)} ms`,
    );
    console.log(
      `    VIP table        render ${sync.vips.render.toFixed(1)} ms + nft -f ${sync.vips.apply.toFixed(1)} ms`,
    );
  } finally {
    await net.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
