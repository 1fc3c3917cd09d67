// The ESP part of the driver on a real kernel (root): two hosts, an encrypted and a plain network with a
// task of each on both. Without keys the encrypted network is blocked, never clear: the catch-all policy
// and the nftables table are programmed for real, a second sync plans nothing (the parsers read back
// what was written), tcpdump on the underlay sees no VXLAN of its VNI while the plain network's crosses
// as usual. With keys, what happens is the kernel's call: where it has ESP (the VM lab's Debian), the
// tasks talk and the underlay carries ESP only; where it has none (the development machine), the SAs are
// refused, reported as failed steps, and the network stays blocked. `removeAll` leaves nothing of ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTools, run } from '../../../lib/exec.js';
import { probeEsp } from '../../../lib/esp.js';
import { OverlayDriver } from './driver.js';
import { espMark } from './esp-keys.js';
import { sandboxName } from './names.js';
import { TestUnderlay, type TestHost } from './test-underlay.js';
import type { OverlayDesiredState, OverlayNetwork, LocalTask } from './types.js';

const isRoot = process.getuid?.() === 0;
const ENC: OverlayNetwork = {
  id: 'enc',
  vni: 4201,
  subnets: [{ subnet: '10.0.7.0/24', gateway: '10.0.7.1' }],
  internal: true,
  encrypted: true,
};
const PLAIN: OverlayNetwork = {
  id: 'plain',
  vni: 4202,
  subnets: [{ subnet: '10.0.8.0/24', gateway: '10.0.8.1' }],
  internal: true,
};

test(
  'ESP data path: blocked without keys, never clear; with keys as far as the kernel goes; removed whole',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    requireTools(['ip', 'bridge', 'nft', 'nsenter', 'sysctl', 'tcpdump', 'ping', 'timeout']);
    const u = new TestUnderlay();
    t.after(() => u.destroy());
    await u.createSwitch();
    const hosts = [await u.addHost(1), await u.addHost(2)] as const;
    const prefixes = [`${u.tag}a`, `${u.tag}b`] as const;
    const drivers = hosts.map((h, i) => new OverlayDriver({ prefix: prefixes[i]!, nodeNetns: h.netns }));
    const tasks: { host: TestHost; task: LocalTask; ip: string; network: OverlayNetwork }[] = [];
    for (const [i, host] of hosts.entries()) {
      for (const network of [ENC, PLAIN]) {
        const ip = `${network.subnets[0]!.subnet.slice(0, -4)}${3 + i}`;
        const name = `${network.id}${i + 1}`;
        tasks.push({
          host,
          ip,
          network,
          task: {
            taskId: name,
            netnsPath: await u.addTask(name),
            attachments: [{ networkId: network.id, address: `${ip}/24` }],
          },
        });
      }
    }
    const desired = (i: number, esp?: OverlayDesiredState['esp']): OverlayDesiredState => ({
      vtep: hosts[i]!.address,
      networks: [ENC, PLAIN],
      tasks: tasks.filter((x) => x.host === hosts[i]).map((x) => x.task),
      peers: tasks
        .filter((x) => x.host !== hosts[i])
        .map((x) => ({ networkId: x.network.id, ip: x.ip, vtep: x.host.address })),
      ...(esp ? { esp } : {}),
    });
    const syncAll = async (esp?: OverlayDesiredState['esp']) =>
      Promise.all(drivers.map((d, i) => d.sync(desired(i, esp))));

    /** VXLAN packets of `vni` that host 2's underlay receives while host 1's task pings its peer. */
    const clearVxlanDuringPing = async (network: OverlayNetwork) => {
      const capture = u.execIn(hosts[1].netns, [
        ...['timeout', '4', 'tcpdump', '-nn', '-l', '-i', 'eth0'],
        `udp port 4789 and (udp[12:4] >> 8) = ${network.vni}`,
      ]);
      await new Promise((r) => setTimeout(r, 700));
      const [from, to] = tasks.filter((x) => x.network === network);
      const answered = await u.ping(u.taskNetns(from!.task.taskId), to!.ip);
      const seen = (await capture).out.split('\n').filter((l) => l.includes('VXLAN')).length;
      return { answered, seen };
    };

    await t.test('no keys yet: catch-all block and table programmed, converged, nothing clear', async () => {
      for (const report of await syncAll()) assert.deepEqual(report.failures, []);
      for (const report of await syncAll()) assert.equal(report.steps, 0, 'a second sync plans nothing');
      const policies = await run('ip', ['-n', hosts[0].netns, 'xfrm', 'policy', 'list']);
      assert.match(
        policies,
        new RegExp(
          `action block priority 1000[\\s\\S]*mark 0x${espMark(prefixes[0]).toString(16)}/0xffffffff`,
        ),
      );
      const table = await run('ip', [
        'netns',
        'exec',
        hosts[0].netns,
        'nft',
        'list',
        'table',
        'inet',
        `${prefixes[0]}_esp`,
      ]);
      assert.match(table, /@th,96,24 0x1069 meta mark set/);
      const mtu = await run('ip', ['-n', sandboxName(prefixes[0], ENC.vni), '-j', 'link', 'show', 'br0']);
      assert.equal(
        (JSON.parse(mtu) as { mtu: number }[])[0]!.mtu,
        1410,
        "an encrypted network leaves room for ESP's 40 bytes",
      );

      const plain = await clearVxlanDuringPing(PLAIN);
      assert.ok(
        plain.answered && plain.seen > 0,
        `the plain network works and is seen as VXLAN: ${JSON.stringify(plain)}`,
      );
      const enc = await clearVxlanDuringPing(ENC);
      assert.deepEqual(enc, { answered: false, seen: 0 }, 'the encrypted network is blocked, not clear');
    });

    await t.test(
      'with keys: ESP where the kernel has it, refused SAs and still blocked where not',
      async () => {
        const esp = { keys: [{ id: 1, key: Buffer.alloc(20, 7) }], primary: 1 };
        const reports = await syncAll(esp);
        const kernel = await probeEsp();
        if (kernel.esp) {
          for (const report of reports) assert.deepEqual(report.failures, []);
          const enc = await clearVxlanDuringPing(ENC);
          assert.deepEqual(
            enc,
            { answered: true, seen: 0 },
            'encrypted: answered, and never clear on the wire',
          );
          const states = await run('ip', ['-n', hosts[0].netns, '-s', 'xfrm', 'state', 'list']);
          assert.match(states, /proto esp spi 0x[0-9a-f]+ reqid \d+ mode transport/);
        } else {
          for (const report of reports) {
            assert.ok(report.failures.length > 0, 'the SAs cannot be made on this kernel');
            for (const f of report.failures) {
              assert.match(f.why, /^ESP SAs with /);
              assert.match(f.error, /<key>/, 'the failed command is shown without its key');
              assert.doesNotMatch(f.error, /0x[0-9a-f]{40}/);
            }
          }
          assert.deepEqual(await clearVxlanDuringPing(ENC), { answered: false, seen: 0 }, 'still blocked');
        }
      },
    );

    await t.test('removeAll takes every policy, SA and table of ours', async () => {
      for (const d of drivers) assert.deepEqual((await d.removeAll()).failures, []);
      for (const [i, h] of hosts.entries()) {
        const mark = `0x${espMark(prefixes[i]!).toString(16)}`;
        assert.doesNotMatch(await run('ip', ['-n', h.netns, 'xfrm', 'policy', 'list']), new RegExp(mark));
        assert.doesNotMatch(await run('ip', ['-n', h.netns, 'xfrm', 'state', 'list']), /proto esp/);
        const tables = await run('ip', ['netns', 'exec', h.netns, 'nft', 'list', 'tables']);
        assert.doesNotMatch(tables, /_esp/);
      }
    });
  },
);
