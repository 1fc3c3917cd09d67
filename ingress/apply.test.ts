// The mesh on a real kernel (root): a client, a "node" namespace holding the published-port table,
// three task namespaces behind a bridge with whoami servers, and a VIP table inside one task.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTools, run } from '../lib/exec.js';
import { MeshApplier, type Namespace } from './apply.js';
import { renderIngressTable, renderPublishTable, renderVipTable } from './model.js';
import { tableName } from './names.js';
import {
  BACKEND_PORT,
  CONNECT_PROBE,
  HTTP_CLIENT,
  MeshTestNet,
  TASK_SUBNET,
  UDP_CLIENT,
} from './test-net.js';
import type { Backend, PublishedPort } from './types.js';

const isRoot = process.getuid?.() === 0;
const PUBLISHED: PublishedPort[] = [
  { protocol: 'tcp', publishedPort: 5000, targetPort: BACKEND_PORT, serviceId: 'web' },
  { protocol: 'udp', publishedPort: 5000, targetPort: BACKEND_PORT, serviceId: 'web' },
];
const VIP = `${TASK_SUBNET}.100`;

type Counts = Record<string, number>;

/** Connects, says so, and keeps the connection open until killed. */
const HOLD_OPEN = `
const [host, port] = process.argv.slice(1);
const s = require('node:net').connect({ host, port: Number(port) }, () => console.log('connected'));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;
type Probe = { outcome: string; ms: number };

/**
 * The fastest of three connect attempts: a blackholed SYN is retransmitted after 1 s, so even the
 * best attempt would take that long, while CPU starvation on a shared machine only delays some.
 */
async function probeConnect(net: MeshTestNet, netns: string, host: string, port: string): Promise<Probe> {
  const probes: Probe[] = [];
  for (let i = 0; i < 3; i++) probes.push(await net.runScript<Probe>(netns, CONNECT_PROBE, [host, port]));
  return probes.sort((a, b) => a.ms - b.ms)[0];
}

test(
  'routing mesh on nftables: balancing, removal, reject, VIPs, ownership',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    requireTools(['ip', 'nft', 'sysctl', 'nsenter']);
    const net = new MeshTestNet();
    t.after(() => net.destroy());
    await net.build(3);
    const prefix = net.tag;
    const applier = new MeshApplier({ prefix, minIntervalMs: 50 });
    const node: Namespace = { kind: 'named', name: net.node };
    const backendsOf = (names: string[]): Backend[] =>
      net.tasks
        .filter((task) => names.includes(task.name))
        .map((task) => ({ serviceId: 'web', networkId: 'ingress', address: task.address }));
    const applyIngress = (names: string[]) =>
      applier.apply(
        renderIngressTable({
          prefix,
          ingressNetworkId: 'ingress',
          published: PUBLISHED,
          backends: backendsOf(names),
        }),
        node,
      );
    const load = (count = 300) =>
      net.runScript<Counts>(net.client, HTTP_CLIENT, [net.nodeAddress, '5000', String(count)]);

    // Tables of other owners in the same namespace, which nothing below may touch.
    await run('nft', ['-f', '-'], {
      netns: net.node,
      input: `table ip ${prefix}_gw {}\ntable inet ${prefix}x_other {}\n`,
    });

    await t.test('300 connections spread over all three backends', async () => {
      await applyIngress(['task1', 'task2', 'task3']);
      const counts = await load();
      assert.deepEqual(Object.keys(counts).sort(), ['task1', 'task2', 'task3'], JSON.stringify(counts));
      // Uniform random over 3: mean 100, sd ~8.2; 60 is ~5 sd below.
      for (const n of Object.values(counts)) assert.ok(n >= 60, JSON.stringify(counts));
    });

    await t.test('UDP through the published port reaches every backend', async () => {
      const counts = await net.runScript<Counts>(net.client, UDP_CLIENT, [net.nodeAddress, '5000', '60']);
      assert.deepEqual(Object.keys(counts).sort(), ['task1', 'task2', 'task3'], JSON.stringify(counts));
    });

    await t.test('a removed backend gets no new connection', async () => {
      await applyIngress(['task1', 'task2']);
      const counts = await load();
      assert.deepEqual(Object.keys(counts).sort(), ['task1', 'task2'], JSON.stringify(counts));
      assert.equal((counts.task1 ?? 0) + (counts.task2 ?? 0), 300);
    });

    await t.test('no backend: refused at once, not a hang', async () => {
      await applyIngress([]);
      const probe = await probeConnect(net, net.client, net.nodeAddress, '5000');
      assert.equal(probe.outcome, 'ECONNREFUSED', JSON.stringify(probe));
      t.diagnostic(`refused after ${probe.ms.toFixed(1)} ms (a dropped SYN would time out instead)`);
      // and back again
      await applyIngress(['task3']);
      assert.deepEqual(await load(20), { task3: 20 });
    });

    await t.test('a refused transaction leaves the previous table in place', async () => {
      await applyIngress(['task3']);
      const name = tableName(prefix, 'ingress');
      const broken = {
        name,
        text: `add table ip ${name}\ndelete table ip ${name}\ntable ip ${name} { chain c { bogus } }\n`,
      };
      await assert.rejects(applier.apply(broken, node));
      assert.deepEqual(await load(10), { task3: 10 });
    });

    await t.test("a published port's idle timeout is the one its connections get in conntrack", async () => {
      const published = PUBLISHED.map((p) => ({ ...p, idleTimeoutSeconds: 600 }));
      await applier.apply(
        renderIngressTable({
          prefix,
          ingressNetworkId: 'ingress',
          published,
          backends: backendsOf(['task1']),
        }),
        node,
      );
      const holder = net.spawnIn(net.client, ['-e', HOLD_OPEN, net.nodeAddress, '5000']);
      await new Promise((resolve) => holder.stdout?.once('data', resolve));
      const table = await run('cat', ['/proc/net/nf_conntrack'], { netns: net.node });
      holder.kill('SIGKILL');
      const entry = table.split('\n').find((l) => / ESTABLISHED /.test(l) && /dport=5000 /.test(l));
      assert.ok(entry, table);
      // ipv4 2 tcp 6 <seconds left> ESTABLISHED ...: the kernel default would be 432000 (5 days).
      const left = Number(entry.trim().split(/\s+/)[4]);
      assert.ok(left > 500 && left <= 600, entry);
    });

    await t.test('bursts of syncs coalesce and the newest wins', async () => {
      const before = applier.applies;
      const syncs = [['task1'], ['task2'], ['task3'], ['task1', 'task2'], ['task2', 'task3']].map((names) =>
        applyIngress(names),
      );
      await Promise.all(syncs);
      assert.ok(applier.applies - before <= 2, `${applier.applies - before} applies for 5 syncs`);
      const counts = await load(60);
      assert.deepEqual(Object.keys(counts).sort(), ['task2', 'task3'], JSON.stringify(counts));
    });

    await t.test('a VIP inside a task namespace balances over every task, itself included', async () => {
      const task1 = net.tasks[0];
      const inTask1: Namespace = { kind: 'path', path: `/run/netns/${task1.netns}` };
      const table = renderVipTable({
        prefix,
        networkIds: ['appnet'],
        vips: [
          { serviceId: 'web', networkId: 'appnet', address: VIP },
          { serviceId: 'idle', networkId: 'appnet', address: `${TASK_SUBNET}.101` },
        ],
        backends: net.tasks.map((task) => ({ serviceId: 'web', networkId: 'appnet', address: task.address })),
      });
      await applier.apply(table, inTask1);
      const counts = await net.runScript<Counts>(task1.netns, HTTP_CLIENT, [
        VIP,
        String(BACKEND_PORT),
        '300',
      ]);
      assert.deepEqual(Object.keys(counts).sort(), ['task1', 'task2', 'task3'], JSON.stringify(counts));
      for (const n of Object.values(counts)) assert.ok(n >= 60, JSON.stringify(counts));
      const probe = await probeConnect(net, task1.netns, `${TASK_SUBNET}.101`, '80');
      assert.equal(probe.outcome, 'ECONNREFUSED', JSON.stringify(probe));
      t.diagnostic(`refused after ${probe.ms.toFixed(1)} ms (a dropped SYN would time out instead)`);
      assert.deepEqual(await applier.removeAll(inTask1), [tableName(prefix, 'vips')]);
    });

    await t.test(
      'the full mesh: node → ingress sandbox → every task; no task: reset through both hops',
      async () => {
        const sandbox = await net.addSandbox();
        const inSandbox: Namespace = { kind: 'named', name: sandbox.netns };
        // The node must not balance by itself any more: only its publish table is left there.
        await applier.remove(tableName(prefix, 'ingress'), node);
        await applier.apply(
          renderPublishTable({ prefix, published: PUBLISHED, sandboxAddress: sandbox.address }),
          node,
        );
        await applier.apply(
          renderIngressTable({
            prefix,
            ingressNetworkId: 'ingress',
            published: PUBLISHED,
            backends: backendsOf(['task1', 'task2', 'task3']),
          }),
          inSandbox,
        );
        const counts = await load(150);
        assert.deepEqual(Object.keys(counts).sort(), ['task1', 'task2', 'task3'], JSON.stringify(counts));
        for (const n of Object.values(counts)) assert.ok(n >= 25, JSON.stringify(counts));
        const tracked = await run('cat', ['/proc/net/nf_conntrack'], { netns: sandbox.netns });
        // Original tuple to the sandbox's port 5000; reply tuple from a task's 8080 to the sandbox
        // itself: DNATed to a task and masqueraded there.
        const crossed =
          /dst=172\.30\.0\.2 sport=\d+ dport=5000 src=10\.201\.0\.\d+ dst=172\.30\.0\.2 sport=8080 /;
        assert.ok(crossed.test(tracked), 'the connections were balanced and masqueraded in the sandbox');
        await applier.apply(
          renderIngressTable({ prefix, ingressNetworkId: 'ingress', published: PUBLISHED, backends: [] }),
          inSandbox,
        );
        const probe = await probeConnect(net, net.client, net.nodeAddress, '5000');
        assert.equal(probe.outcome, 'ECONNREFUSED', JSON.stringify(probe));
        t.diagnostic(`refused after ${probe.ms.toFixed(1)} ms (a dropped SYN would time out instead)`);
        assert.deepEqual(await applier.removeAll(inSandbox), [tableName(prefix, 'ingress')]);
        // the node's table goes back to balancing itself for the last subtest
        assert.deepEqual(await applier.removeAll(node), [tableName(prefix, 'publish')]);
        await applyIngress(['task1']);
      },
    );

    await t.test('a table deleted behind its back is written again after forget()', async () => {
      await applyIngress(['task2']);
      await run('nft', ['delete', 'table', 'ip', tableName(prefix, 'ingress')], { netns: net.node });
      await applyIngress(['task2']); // remembered as applied: skipped
      assert.equal(await applier.inspect(tableName(prefix, 'ingress'), node), undefined);
      applier.forget(node);
      await applyIngress(['task2']);
      assert.deepEqual(await load(10), { task2: 10 });
    });

    await t.test('inspect reads the table back; removeAll takes only the mesh tables', async () => {
      const doc = await applier.inspect(tableName(prefix, 'ingress'), node);
      assert.ok(doc?.some((item) => JSON.stringify(item).includes('"frontends"')));
      assert.deepEqual(await applier.removeAll(node), [tableName(prefix, 'ingress')]);
      assert.equal(await applier.inspect(tableName(prefix, 'ingress'), node), undefined);
      const left = await run('nft', ['list', 'tables'], { netns: net.node });
      assert.match(left, new RegExp(`table ip ${prefix}_gw`));
      assert.match(left, new RegExp(`table inet ${prefix}x_other`));
      assert.deepEqual(await applier.removeAll(node), []);
    });
  },
);
