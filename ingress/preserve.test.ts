// Client address preservation on a real kernel (root): a client, two nodes each with an ingress
// sandbox and one task, the tasks and sandboxes on one L2 "overlay" (test-net-nodes.ts). Port 5000
// keeps the client address, port 5001 masquerades; both are published through both nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTools, run } from '../lib/exec.js';
import { MeshApplier, type Namespace } from './apply.js';
import { renderIngressTable, renderPublishTable } from './model.js';
import { applyReturnPath, observeReturnRouting, removeReturnPath } from './return-apply.js';
import { RETURN_RULE_PRIORITY, isOwnRule, returnMark } from './return-path.js';
import { HTTP_CLIENT } from './test-net.js';
import { SANDBOX_GATEWAY_ADDRESS, TwoNodeMeshNet, WHOAMI_PORT } from './test-net-nodes.js';
import type { PublishedPort } from './types.js';

const isRoot = process.getuid?.() === 0;
const PRESERVED = 5000;
const MASQUERADED = 5001;
const PUBLISHED: PublishedPort[] = [
  {
    protocol: 'tcp',
    publishedPort: PRESERVED,
    targetPort: WHOAMI_PORT,
    serviceId: 'web',
    preserveClientAddress: true,
  },
  { protocol: 'tcp', publishedPort: MASQUERADED, targetPort: WHOAMI_PORT, serviceId: 'web' },
];

type Counts = Record<string, number>;

/** `{ "task1 198.19.5.100": 20, ... }` → the tasks reached and the addresses they saw. */
function seen(counts: Counts): { tasks: string[]; sources: string[]; failures: number } {
  const ok = Object.keys(counts).filter((k) => !k.startsWith('error:'));
  return {
    tasks: [...new Set(ok.map((k) => k.split(' ')[0]!))].sort(),
    sources: [...new Set(ok.map((k) => k.split(' ')[1]!))].sort(),
    failures: Object.entries(counts)
      .filter(([k]) => k.startsWith('error:'))
      .reduce((n, [, c]) => n + c, 0),
  };
}

test(
  'client address preservation: per port, through two ingress nodes, replies back via the sender',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    requireTools(['ip', 'nft', 'sysctl', 'nsenter']);
    const net = new TwoNodeMeshNet();
    t.after(() => net.destroy());
    await net.build();
    const prefix = net.tag;
    const applier = new MeshApplier({ prefix, minIntervalMs: 10 });
    const sandboxes = net.nodes.map((n) => ({ ip: n.sandbox.ingressAddress }));
    const taskNs = (i: number): Namespace => ({ kind: 'path', path: `/run/netns/${net.tasks[i]!.netns}` });
    const backends = net.tasks.map((task) => ({
      serviceId: 'web',
      networkId: 'ingress',
      address: task.ingressAddress,
    }));
    for (const node of net.nodes) {
      await applier.apply(
        renderPublishTable({ prefix, published: PUBLISHED, sandboxAddress: SANDBOX_GATEWAY_ADDRESS }),
        { kind: 'named', name: node.netns },
      );
      await applier.apply(
        renderIngressTable({ prefix, ingressNetworkId: 'ingress', published: PUBLISHED, backends }),
        {
          kind: 'named',
          name: node.sandbox.netns,
        },
      );
    }
    // Strict reverse-path filtering, as some hosts have: the return path must cope with it.
    for (const task of net.tasks)
      await run('sysctl', ['-q', '-w', 'net.ipv4.conf.all.rp_filter=1'], { netns: task.netns });
    // Someone else's policy routing in task1, at our very priority: it must survive everything below.
    await run('ip', [
      '-n',
      net.tasks[0]!.netns,
      'rule',
      'add',
      'priority',
      String(RETURN_RULE_PRIORITY),
      'fwmark',
      '0x4000',
      'table',
      '100',
    ]);
    await run('ip', [
      '-n',
      net.tasks[0]!.netns,
      'route',
      'add',
      '10.99.0.0/24',
      'dev',
      'eth1',
      'table',
      '100',
    ]);
    const foreign = async () => {
      const rules = await run('ip', ['-n', net.tasks[0]!.netns, 'rule', 'show']);
      const routes = await run('ip', ['-n', net.tasks[0]!.netns, 'route', 'show', 'table', '100']);
      return rules.includes('fwmark 0x4000 lookup 100') && routes.includes('10.99.0.0/24');
    };
    const load = (nodeIndex: number, port: number, count = 40) =>
      net.runScript<Counts>(net.client, HTTP_CLIENT, [
        net.nodes[nodeIndex]!.address,
        String(port),
        String(count),
      ]);

    const ran = [];
    for (let i = 0; i < net.tasks.length; i++) {
      ran.push(
        await applyReturnPath(applier, taskNs(i), { prefix, sandboxes, device: net.tasks[i]!.ingressDevice }),
      );
    }
    t.diagnostic(`return path of task1: ${ran[0]!.map((c) => `ip ${c.join(' ')}`).join('; ')}`);

    await t.test(
      'without the return path a preserved connection gets no answer; masqueraded ones do',
      async () => {
        await removeReturnPath(applier, taskNs(0));
        await removeReturnPath(applier, taskNs(1));
        const broken = seen(await load(0, PRESERVED, 3));
        const masq = seen(await load(0, MASQUERADED, 10));
        t.diagnostic(
          `no return path: preserved ${3 - broken.failures}/3 answered, masqueraded ${10 - masq.failures}/10`,
        );
        // Each task replies through its own node, which never saw the connection: the client drops it.
        assert.equal(broken.failures, 3);
        assert.equal(masq.failures, 0);
        for (let i = 0; i < net.tasks.length; i++) {
          await applyReturnPath(applier, taskNs(i), {
            prefix,
            sandboxes,
            device: net.tasks[i]!.ingressDevice,
          });
        }
      },
    );

    await t.test('a preserving port: every task sees the client address, through either node', async () => {
      for (const n of [0, 1]) {
        const counts = await load(n, PRESERVED);
        t.diagnostic(`node${n + 1}:${PRESERVED} ${JSON.stringify(counts)}`);
        assert.deepEqual(seen(counts), {
          tasks: ['task1', 'task2'],
          sources: [net.clientAddress],
          failures: 0,
        });
      }
    });

    await t.test("a masquerading port on the same nodes: the tasks see the sandbox's address", async () => {
      for (const n of [0, 1]) {
        const counts = await load(n, MASQUERADED);
        t.diagnostic(`node${n + 1}:${MASQUERADED} ${JSON.stringify(counts)}`);
        assert.deepEqual(seen(counts), {
          tasks: ['task1', 'task2'],
          sources: [net.nodes[n]!.sandbox.ingressAddress],
          failures: 0,
        });
      }
    });

    await t.test('each reply went back through the sandbox that sent the request', async () => {
      // Every task took connections from both sandboxes (above), and its own default route leads to
      // one node only; so every answered connection proves its replies took the marked route. The
      // kernel's records agree: in each task, the client's connections carry both sandboxes' marks,
      // and each sandbox saw replies (ASSURED) from both tasks to the client's own address.
      for (const task of net.tasks) {
        const tracked = await run('cat', ['/proc/net/nf_conntrack'], { netns: task.netns });
        const marks: Counts = {};
        for (const line of tracked.split('\n')) {
          if (!line.includes(`src=${net.clientAddress} `) || !line.includes(`dport=${WHOAMI_PORT} `))
            continue;
          const mark = /mark=(\d+)/.exec(line)?.[1] ?? 'none';
          marks[mark] = (marks[mark] ?? 0) + 1;
        }
        t.diagnostic(`${task.name}: client connections by ct mark ${JSON.stringify(marks)}`);
        assert.deepEqual(Object.keys(marks).sort(), sandboxes.map((s) => String(returnMark(s.ip))).sort());
      }
      for (const node of net.nodes) {
        const tracked = await run('cat', ['/proc/net/nf_conntrack'], { netns: node.sandbox.netns });
        for (const task of net.tasks) {
          const reply = new RegExp(
            `src=${net.clientAddress} dst=${SANDBOX_GATEWAY_ADDRESS} sport=\\d+ dport=${PRESERVED} src=${task.ingressAddress.replaceAll('.', '\\.')} dst=${net.clientAddress} .*\\[ASSURED\\]`,
          );
          assert.match(tracked, reply, `${node.sandbox.netns} saw ${task.name}'s replies to the client`);
        }
      }
    });

    await t.test(
      'idempotent and owned: a re-apply runs nothing, a gone sandbox goes, others stay',
      async () => {
        const again = await applyReturnPath(applier, taskNs(0), {
          prefix,
          sandboxes,
          device: net.tasks[0]!.ingressDevice,
        });
        assert.deepEqual(again, []);
        const shrunk = await applyReturnPath(applier, taskNs(0), {
          prefix,
          sandboxes: sandboxes.slice(0, 1),
          device: net.tasks[0]!.ingressDevice,
        });
        t.diagnostic(`sandbox2 gone: ${shrunk.map((c) => `ip ${c.join(' ')}`).join('; ')}`);
        const mark2 = String(returnMark(sandboxes[1]!.ip));
        assert.deepEqual(shrunk, [
          [
            'rule',
            'del',
            'priority',
            String(RETURN_RULE_PRIORITY),
            'fwmark',
            `0x${Number(mark2).toString(16).padStart(8, '0')}`,
            'table',
            mark2,
          ],
          ['route', 'flush', 'table', mark2],
        ]);
        const observed = await observeReturnRouting(taskNs(0));
        assert.deepEqual(
          observed.rules.filter(isOwnRule).map((r) => r.table),
          [returnMark(sandboxes[0]!.ip)],
        );
        assert.ok(await foreign(), "the other owner's rule and route are still there");
        await applyReturnPath(applier, taskNs(0), { prefix, sandboxes, device: net.tasks[0]!.ingressDevice });
        assert.deepEqual(seen(await load(1, PRESERVED, 10)).failures, 0);
      },
    );

    await t.test('removal takes exactly the return path away', async () => {
      for (let i = 0; i < net.tasks.length; i++) await removeReturnPath(applier, taskNs(i));
      for (let i = 0; i < net.tasks.length; i++) {
        const observed = await observeReturnRouting(taskNs(i));
        assert.deepEqual(observed.rules.filter(isOwnRule), []);
        assert.deepEqual(observed.routes, []);
        assert.deepEqual(await applier.listOwned(taskNs(i)), []);
      }
      assert.ok(await foreign());
      assert.deepEqual(await removeReturnPath(applier, taskNs(0)), [], 'nothing left to remove');
    });
  },
);
