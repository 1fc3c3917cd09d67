// The driver on a real kernel: two "hosts" (network namespaces on a switch namespace, underlay in a
// random 198.19.2xx.0/24), fake task namespaces, and an outside host for egress. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { requireTools, run } from '../../../lib/exec.js';
import { OverlayDriver } from './driver.js';
import { ownNamespaceName } from './names.js';
import { TestUnderlay, type TestHost } from './test-underlay.js';
import type { LocalTask, OverlayDesiredState, OverlayNetwork, RemotePeer } from './types.js';

const isRoot = process.getuid?.() === 0;

const NET_A: OverlayNetwork = {
  id: 'netA',
  vni: 4097,
  subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1' }],
  internal: false,
};
const NET_C_INTERNAL: OverlayNetwork = {
  id: 'netC',
  vni: 4099,
  subnets: [{ subnet: '10.0.3.0/24', gateway: '10.0.3.1' }],
  internal: true,
};
const NET_D_INTERNAL: OverlayNetwork = {
  id: 'netD',
  vni: 4100,
  subnets: [{ subnet: '10.0.4.0/24', gateway: '10.0.4.1' }],
  internal: true,
};
const NET_B: OverlayNetwork = {
  id: 'netB',
  vni: 4098,
  subnets: [{ subnet: '10.0.2.0/24', gateway: '10.0.2.1' }],
  internal: false,
};

interface PlacedTask extends LocalTask {
  host: TestHost;
}

/** What gossip's overlay-peers table would hold: every task's addresses with its node's VTEP. */
function peersOf(tasks: PlacedTask[]): RemotePeer[] {
  return tasks.flatMap((t) =>
    t.attachments.map((a) => ({ networkId: a.networkId, ip: a.address.split('/')[0], vtep: t.host.address })),
  );
}

function desiredFor(
  host: TestHost,
  tasks: PlacedTask[],
  networks: OverlayNetwork[],
  peers = peersOf(tasks),
): OverlayDesiredState {
  return {
    vtep: host.address,
    networks,
    tasks: tasks
      .filter((t) => t.host === host)
      .map(({ taskId, netnsPath, attachments }) => ({ taskId, netnsPath, attachments })),
    peers,
  };
}

async function syncClean(driver: OverlayDriver, desired: OverlayDesiredState): Promise<number> {
  const report = await driver.sync(desired);
  assert.deepEqual(report.failures, []);
  return report.steps;
}

async function linksIn(netns: string): Promise<string[]> {
  const out = await run('ip', ['-n', netns, '-br', 'link', 'show']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[0].split('@')[0]);
}

async function netnsNames(): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]);
}

test(
  'overlay driver: tasks on two hosts talk over VXLAN, networks are isolated, restarts converge',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    requireTools(['ip', 'bridge', 'nft', 'nsenter', 'sysctl', 'tcpdump', 'ping']);
    const u = new TestUnderlay();
    t.after(() => u.destroy());
    await u.createSwitch();
    const h1 = await u.addHost(1);
    const h2 = await u.addHost(2);
    const outside = await u.addHost(100);
    const p1 = `${u.tag}a`;
    const p2 = `${u.tag}b`;
    const d1 = new OverlayDriver({ prefix: p1, nodeNetns: h1.netns });
    const d2 = new OverlayDriver({ prefix: p2, nodeNetns: h2.netns });

    const t1: PlacedTask = {
      taskId: 'task1',
      host: h1,
      netnsPath: await u.addTask('t1'),
      attachments: [{ networkId: 'netA', address: '10.0.1.3/24' }],
    };
    const t2: PlacedTask = {
      taskId: 'task2',
      host: h2,
      netnsPath: await u.addTask('t2'),
      attachments: [{ networkId: 'netA', address: '10.0.1.4/24' }],
    };
    let tasks = [t1, t2];
    const syncBoth = async (networks: OverlayNetwork[]): Promise<void> => {
      await syncClean(d1, desiredFor(h1, tasks, networks));
      await syncClean(d2, desiredFor(h2, tasks, networks));
    };
    const fresh = Date.now();
    await syncBoth([NET_A]);
    t.diagnostic(
      `first sync of two fresh nodes (sandbox, gateway bridge, one task, one peer each): ${Date.now() - fresh} ms`,
    );

    await t.test('ping and TCP across hosts, carried as VXLAN with the network VNI on UDP 4789', async () => {
      const capture = u.spawnIn(h2.netns, [
        'tcpdump',
        '-nn',
        '-l',
        '-c',
        '1',
        '-i',
        'eth0',
        'udp',
        'dst',
        'port',
        '4789',
      ]);
      let captured = '';
      capture.stdout?.on('data', (d: Buffer) => (captured += d.toString()));
      await new Promise<void>((resolve) =>
        capture.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
      );
      assert.ok(await u.ping(u.taskNetns('t1'), '10.0.1.4'), 't1 → t2 ping');
      await Promise.race([once(capture, 'close'), new Promise((r) => setTimeout(r, 5000))]);
      assert.match(captured, new RegExp(`${h1.address}\\.\\d+ > ${h2.address}\\.4789: VXLAN.*vni 4097`));

      const server = u.spawnIn(u.taskNetns('t2'), [
        'node',
        '-e',
        "require('net').createServer((s) => s.end('hello from t2')).listen(8080, '10.0.1.4', () => console.log('ready'))",
      ]);
      await new Promise<void>((resolve) => server.stdout?.on('data', () => resolve()));
      const client = await u.execIn(u.taskNetns('t1'), [
        'node',
        '-e',
        "const s = require('net').connect(8080, '10.0.1.4'); let d = ''; s.on('data', (x) => (d += x)); " +
          "s.on('end', () => console.log(d)); s.on('error', (e) => { console.error(e.message); process.exit(1); });",
      ]);
      server.kill('SIGKILL');
      assert.equal(client.code, 0, client.out);
      assert.equal(client.out.trim(), 'hello from t2');
    });

    await t.test('MTU: the overlay carries underlay MTU − 50 (1450) unfragmented, not more', async () => {
      const eth0 = await run('ip', ['-n', u.taskNetns('t1'), '-j', 'link', 'show', 'eth0']);
      assert.equal((JSON.parse(eth0) as { mtu: number }[])[0].mtu, 1450);
      assert.ok(await u.ping(u.taskNetns('t1'), '10.0.1.4', ['-M', 'do', '-s', '1422']), '1450-byte packet');
      assert.ok(
        await u.unreachable(u.taskNetns('t1'), '10.0.1.4', ['-M', 'do', '-s', '1423']),
        '1451-byte packet',
      );
    });

    await t.test('egress through the gateway bridge is masqueraded to the host address', async () => {
      const capture = u.spawnIn(outside.netns, ['tcpdump', '-nn', '-l', '-c', '1', '-i', 'eth0', 'icmp']);
      let captured = '';
      capture.stdout?.on('data', (d: Buffer) => (captured += d.toString()));
      await new Promise<void>((resolve) =>
        capture.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
      );
      // The outside host has no route to 172.18.0.0/16: only a masqueraded request gets an answer.
      assert.ok(await u.ping(u.taskNetns('t1'), outside.address), 't1 → outside');
      await Promise.race([once(capture, 'close'), new Promise((r) => setTimeout(r, 5000))]);
      assert.match(captured, new RegExp(`IP ${h1.address} > ${outside.address}: ICMP echo request`));
    });

    const t3: PlacedTask = {
      taskId: 'task3',
      host: h1,
      netnsPath: await u.addTask('t3'),
      attachments: [{ networkId: 'netB', address: '10.0.2.3/24' }],
    };
    const t4: PlacedTask = {
      taskId: 'task4',
      host: h2,
      netnsPath: await u.addTask('t4'),
      attachments: [
        { networkId: 'netA', address: '10.0.1.5/24' },
        { networkId: 'netB', address: '10.0.2.5/24' },
      ],
    };

    await t.test('two networks are isolated; a task on both reaches both', async () => {
      tasks = [t1, t2, t3, t4];
      await syncBoth([NET_A, NET_B]);
      assert.ok(await u.ping(u.taskNetns('t4'), '10.0.1.3'), 't4 → t1 on netA');
      assert.ok(await u.ping(u.taskNetns('t4'), '10.0.2.3'), 't4 → t3 on netB');
      assert.ok(await u.unreachable(u.taskNetns('t3'), '10.0.1.3'), 't3 (netB) must not reach t1 (netA)');
      assert.ok(await u.unreachable(u.taskNetns('t1'), '10.0.2.3'), 't1 (netA) must not reach t3 (netB)');
      // Nor through the gateway bridge, where both have a leg on the same host: its ports are isolated.
      const t3gw = await run('ip', ['-n', u.taskNetns('t3'), '-j', 'addr', 'show', 'gw0']);
      const t3gwAddr = (
        JSON.parse(t3gw) as { addr_info: { family: string; local: string }[] }[]
      )[0].addr_info.find((a) => a.family === 'inet')?.local;
      assert.ok(t3gwAddr);
      assert.ok(
        await u.unreachable(u.taskNetns('t1'), t3gwAddr),
        't1 must not reach t3 over the gateway bridge',
      );
      const eths = await linksIn(u.taskNetns('t4'));
      for (const name of ['eth0', 'eth1', 'gw0']) assert.ok(eths.includes(name), `t4 has ${name}`);
      assert.ok(await u.ping(u.taskNetns('t4'), '10.0.1.4'), 't4 → t2, both on h2: through br0 only');
    });

    await t.test('an internal network: its tasks talk, but get no gateway leg and no way out', async () => {
      const t5: PlacedTask = {
        taskId: 'task5',
        host: h1,
        netnsPath: await u.addTask('t5'),
        attachments: [{ networkId: 'netC', address: '10.0.3.3/24' }],
      };
      const t6: PlacedTask = {
        taskId: 'task6',
        host: h2,
        netnsPath: await u.addTask('t6'),
        attachments: [{ networkId: 'netC', address: '10.0.3.4/24' }],
      };
      const before = tasks;
      tasks = [...before, t5, t6];
      await syncBoth([NET_A, NET_B, NET_C_INTERNAL]);
      assert.ok(await u.ping(u.taskNetns('t5'), '10.0.3.4'), 't5 → t6 on the internal network');
      assert.deepEqual(await linksIn(u.taskNetns('t5')), ['lo', 'eth0']);
      assert.equal((await run('ip', ['-n', u.taskNetns('t5'), 'route', 'show', 'default'])).trim(), '');
      assert.ok(
        await u.unreachable(u.taskNetns('t5'), outside.address),
        'no egress from an internal network',
      );
      // The network leaves this node again with its tasks; the others are untouched.
      tasks = before;
      await syncBoth([NET_A, NET_B]);
      assert.ok(!(await netnsNames()).includes(`${p1}_ov-4099`));
      assert.ok(await u.ping(u.taskNetns('t4'), '10.0.1.3'), 'netA still works');
    });

    await t.test(
      'concurrent syncs do not collide: the changes for a network run once, in order',
      async () => {
        const t7: PlacedTask = {
          taskId: 'task7',
          host: h1,
          netnsPath: await u.addTask('t7'),
          attachments: [{ networkId: 'netA', address: '10.0.1.7/24' }],
        };
        tasks = [...tasks, t7];
        const reports = await Promise.all(
          [1, 2, 3].map(() => d1.sync(desiredFor(h1, tasks, [NET_A, NET_B]))),
        );
        assert.deepEqual(
          reports.map((r) => r.failures),
          [[], [], []],
        );
        // Each sync queues all of its networks at once, so one of them finds the work and the others,
        // queued behind it, find nothing left to do.
        const steps = reports.map((r) => r.steps).sort((a, b) => a - b);
        assert.deepEqual(steps.slice(0, 2), [0, 0]);
        assert.ok(steps[2] > 0);
        assert.ok(await u.ping(u.taskNetns('t7'), '10.0.1.3'), 't7 → t1, both on h1');
      },
    );

    await t.test('a peer that leaves loses its neighbor and FDB entries; ping stops', async () => {
      const before = await d1.inspect(4097);
      assert.match(before.neighbors, /10\.0\.1\.4 lladdr 02:42:0a:00:01:04 PERMANENT/);
      assert.match(
        before.fdb,
        new RegExp(`02:42:0a:00:01:04 dst ${h2.address.replace(/\./g, '\\.')} .*self permanent`),
      );
      // t2 is gone from gossip (node h1's view); h1 reprograms.
      const leave = Date.now();
      await syncClean(d1, desiredFor(h1, tasks, [NET_A, NET_B], peersOf(tasks.filter((x) => x !== t2))));
      t.diagnostic(`sync removing one peer (2 networks observed): ${Date.now() - leave} ms`);
      const noop = Date.now();
      await syncClean(d1, desiredFor(h1, tasks, [NET_A, NET_B], peersOf(tasks.filter((x) => x !== t2))));
      t.diagnostic(`sync with nothing to do (2 networks observed): ${Date.now() - noop} ms`);
      const after = await d1.inspect(4097);
      assert.doesNotMatch(after.neighbors, /10\.0\.1\.4 /);
      assert.doesNotMatch(after.fdb, /02:42:0a:00:01:04/);
      assert.match(after.neighbors, /10\.0\.1\.5 lladdr 02:42:0a:00:01:05 PERMANENT/);
      assert.ok(await u.unreachable(u.taskNetns('t1'), '10.0.1.4'), 'no entry, no path');
    });

    await t.test(
      'a restarted driver converges: stale entries and leftovers go, nothing is duplicated',
      async () => {
        const sb = `${p1}_ov-4097`;
        // What a crash could leave: an entry of a peer that left meanwhile, a half-made vxlan device.
        await run('ip', [
          '-n',
          sb,
          'neigh',
          'replace',
          '10.0.1.99',
          'lladdr',
          '02:42:0a:00:01:63',
          'dev',
          'vxlan0',
          'nud',
          'permanent',
        ]);
        await run('bridge', [
          '-n',
          sb,
          'fdb',
          'append',
          '02:42:0a:00:01:63',
          'dev',
          'vxlan0',
          'dst',
          '198.19.0.99',
          'self',
          'permanent',
        ]);
        await run('ip', [
          '-n',
          h1.netns,
          'link',
          'add',
          `${p1}_vx4100`,
          'type',
          'vxlan',
          'id',
          '4100',
          'dstport',
          '4789',
          'local',
          h1.address,
        ]);
        const restarted = new OverlayDriver({ prefix: p1, nodeNetns: h1.netns });
        const desired = desiredFor(h1, tasks, [NET_A, NET_B]);
        assert.ok((await syncClean(restarted, desired)) > 0);
        assert.equal(await syncClean(restarted, desired), 0, 'a second sync has nothing to do');
        const view = await restarted.inspect(4097);
        assert.doesNotMatch(view.neighbors + view.fdb, /10\.0\.1\.99|02:42:0a:00:01:63/);
        const neighborLines = view.neighbors.split('\n').filter(Boolean).sort();
        assert.deepEqual(
          neighborLines.map((l) => l.split(' ')[0]),
          ['10.0.1.4', '10.0.1.5'],
        );
        assert.equal(view.fdb.split('\n').filter((l) => l.includes(' dst ')).length, 2);
        assert.ok(!(await linksIn(h1.netns)).includes(`${p1}_vx4100`));
        assert.ok(await u.ping(u.taskNetns('t1'), '10.0.1.4'), 't2 is back');
        assert.deepEqual(
          view.devices.map((d) => d.ifName).sort(),
          [
            'br0',
            'lo',
            'vxlan0',
            ...view.devices.filter((d) => d.kind === 'veth').map((d) => d.ifName),
          ].sort(),
        );
      },
    );

    await t.test(
      "an endpoint namespace of the driver's own (as the ingress sandbox): made before its leg, with lo up and forwarding on; gone with its endpoint",
      async () => {
        const p3 = `${u.tag}c`;
        const d3 = new OverlayDriver({ prefix: p3, nodeNetns: h1.netns });
        const name = ownNamespaceName(p3, 'ingress');
        const desired: OverlayDesiredState = {
          vtep: h1.address,
          networks: [NET_D_INTERNAL],
          peers: [],
          tasks: [
            {
              taskId: 'sbox',
              netnsPath: `/run/netns/${name}`,
              ownNamespace: name,
              attachments: [{ networkId: 'netD', address: '10.0.4.2/24' }],
            },
          ],
        };
        try {
          await syncClean(d3, desired);
          assert.ok((await netnsNames()).includes(name));
          assert.deepEqual((await linksIn(name)).sort(), ['eth0', 'lo']);
          assert.match(await run('ip', ['-n', name, 'link', 'show', 'lo']), /[<,]UP[,>]/);
          const forwarding = await run('ip', ['netns', 'exec', name, 'sysctl', '-n', 'net.ipv4.ip_forward']);
          assert.equal(forwarding.trim(), '1');
          assert.ok(await u.ping(name, '10.0.4.1'), 'its leg reaches the gateway on br0');
          assert.equal(await syncClean(d3, desired), 0, 'a second sync changes nothing');
          await syncClean(d3, { ...desired, tasks: [] });
          assert.deepEqual(
            (await netnsNames()).filter((n) => n.startsWith(`${p3}_`)),
            [],
          );
        } finally {
          await d3.removeAll();
        }
      },
    );

    await t.test(
      'the last task leaving removes the sandboxes and the gateway bridge; removeAll is exact',
      async () => {
        tasks = [t2, t4];
        await syncClean(d1, desiredFor(h1, tasks, [NET_A, NET_B]));
        assert.deepEqual(
          (await netnsNames()).filter((n) => n.startsWith(`${p1}_`)),
          [],
        );
        assert.deepEqual(
          (await linksIn(h1.netns)).filter((n) => n.startsWith(`${p1}_`)),
          [],
        );
        const tables = await run('ip', ['netns', 'exec', h1.netns, 'nft', 'list', 'tables']);
        assert.doesNotMatch(tables, new RegExp(`${p1}_gw`));
        // A link of someone else with a look-alike prefix stays.
        await run('ip', ['-n', h2.netns, 'link', 'add', `${p2}x_keep`, 'type', 'bridge']);
        const report = await d2.removeAll();
        assert.deepEqual(report.failures, []);
        assert.deepEqual(
          (await netnsNames()).filter((n) => n.startsWith(`${p2}_`)),
          [],
        );
        const left = await linksIn(h2.netns);
        assert.deepEqual(
          left.filter((n) => n.startsWith(`${p2}_`)),
          [],
        );
        assert.ok(left.includes(`${p2}x_keep`));
        assert.deepEqual(await linksIn(u.taskNetns('t4')), ['lo']);
      },
    );
  },
);
