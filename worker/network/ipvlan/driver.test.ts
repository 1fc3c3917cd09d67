// The ipvlan driver on a real kernel: two lab hosts on a switch namespace (underlay in a random
// 198.18.1xx.0/24). On a kernel without CONFIG_IPVLAN (this development machine's) every ipvlan
// network is refused at creation naming the option, whatever its mode or parent, with the node's
// links unchanged and the probe's namespace gone. On a kernel with it: l2 containers of two hosts
// reach each other with the parent's MAC; l3 containers of two hosts reach each other once each host
// routes the other's container subnet to it (the routes l3 needs), with `default dev eth0` and no
// gateway. Whether the kernel has it is read from /proc/config.gz when published (a source
// independent of the driver's probe). Everything is named after a random tag deleted by t.after. Root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { randomBytes, randomInt } from 'node:crypto';
import { requireTools, run } from '../../../lib/exec.js';
import { NetnsFixture, namespacesWithPrefix } from '../../../lib/netns-fixture.js';
import type { NetworkConfig } from '../driver.js';
import { nodeDrivers } from '../drivers.js';
import { MacvlanDriver } from '../macvlan/driver.js';
import { KernelFeatures, probeKernel } from '../macvlan/kernel.js';
import { LowerNetworks } from '../macvlan/parents.js';
import { IpvlanDriver } from './driver.js';

const isRoot = process.getuid?.() === 0;

async function kernelHasIpvlan(tag: string): Promise<boolean> {
  if (existsSync('/proc/config.gz')) {
    return /^CONFIG_IPVLAN=[ym]$/m.test(gunzipSync(readFileSync('/proc/config.gz')).toString());
  }
  return probeKernel(tag, 'ipvlan');
}

const linksIn = async (netns: string) =>
  JSON.parse(await run('ip', ['-n', netns, '-d', '-j', 'addr', 'show'])) as {
    ifname: string;
    address: string;
    linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
  }[];

const network = (name: string, subnet: string, options: Record<string, string>): NetworkConfig => ({
  id: randomBytes(32).toString('hex'),
  name,
  driver: 'ipvlan',
  subnets: [{ subnet: `${subnet}.0/24`, gateway: `${subnet}.1` }],
  internal: false,
  options,
});

test('ipvlan driver on real namespaces', { skip: !isRoot && 'needs root' }, async (t) => {
  requireTools(['ip', 'ping']);
  const base = `198.18.${randomInt(100, 250)}`;
  const lab = new NetnsFixture(`ivt${randomBytes(2).toString('hex')}`, base);
  t.after(() => lab.destroy());
  await lab.createSwitch();
  const h1 = await lab.addHost(1);
  const h2 = await lab.addHost(2);
  const d1 = new IpvlanDriver({ prefix: lab.tag, nodeNetns: h1.netns });
  const d2 = new IpvlanDriver({ prefix: lab.tag, nodeNetns: h2.netns });
  const sandbox = async (name: string) => ({ id: name, netnsPath: `/run/netns/${await lab.addNetns(name)}` });
  const ping = async (netns: string, target: string) =>
    (await lab.execIn(netns, ['ping', '-n', '-c', '1', '-W', '2', target])).code === 0;

  const hasIpvlan = await kernelHasIpvlan(lab.tag);

  await t.test(
    'one network per parent across macvlan and ipvlan, refused at create naming the other',
    async () => {
      const before = JSON.stringify(await linksIn(h1.netns));
      // Two drivers sharing one index as nodeDrivers builds them; the kernel is told to have ipvlan,
      // which it need not have here: an existing parent is only booked at create, nothing is made.
      const networks = new LowerNetworks();
      const kernel = new KernelFeatures(async () => true);
      const ipv = new IpvlanDriver({ prefix: lab.tag, nodeNetns: h1.netns, kernel, networks });
      const mv = new MacvlanDriver({ prefix: lab.tag, nodeNetns: h1.netns, kernel, networks });
      const routed = network('routed', '10.71.0', { parent: 'eth0', ipvlan_mode: 'l3' });
      await ipv.createNetwork(routed);
      await assert.rejects(
        mv.createNetwork({ ...network('lan', '10.72.0', { parent: 'eth0' }), driver: 'macvlan' }),
        {
          name: 'NetworkDriverError',
          message:
            /^parent interface eth0 is already used by ipvlan network routed \(mode l3\); a macvlan network needs a parent of its own/,
        },
      );
      await ipv.deleteNetwork(routed.id);
      const lan = { ...network('lan', '10.72.0', { parent: 'eth0' }), driver: 'macvlan' };
      await mv.createNetwork(lan);
      // The daemon's composition: ipvlan on macvlan's parent is refused, by the kernel check first
      // where the kernel lacks ipvlan, by the shared index where it has it.
      const drivers = nodeDrivers({ prefix: lab.tag, nodeNetns: h1.netns });
      await drivers.get('macvlan').createNetwork(lan);
      await assert.rejects(drivers.get('ipvlan').createNetwork(routed), {
        name: 'NetworkDriverError',
        message: hasIpvlan
          ? /^parent interface eth0 is already used by macvlan network lan \(mode bridge\)/
          : /requires IPvlan support \(CONFIG_IPVLAN\)/,
      });
      await drivers.get('macvlan').deleteNetwork(lan.id);
      await mv.deleteNetwork(lan.id);
      assert.equal(JSON.stringify(await linksIn(h1.netns)), before, "the node's links as they were");
    },
  );

  if (!hasIpvlan) {
    await t.test('without CONFIG_IPVLAN: every ipvlan network refused by name, nothing changed', async () => {
      const before = JSON.stringify(await linksIn(h1.netns));
      const cases: [string, Record<string, string>][] = [
        ['l2', { parent: 'eth0' }],
        ['l3', { parent: 'eth0', ipvlan_mode: 'l3' }],
        ['vlan', { parent: 'eth0.100', ipvlan_mode: 'l2' }],
        ['nopar', {}],
      ];
      for (const [name, options] of cases) {
        await assert.rejects(d1.createNetwork(network(name, '10.95.0', options)), {
          name: 'NetworkDriverError',
          message: `the ipvlan driver (network ${name}) requires IPvlan support (CONFIG_IPVLAN), which this kernel lacks`,
        });
      }
      // As the daemon composes it (one probe for both drivers): the same refusal, and macvlan still works.
      const drivers = nodeDrivers({ prefix: lab.tag, nodeNetns: h1.netns });
      await assert.rejects(
        drivers.get('ipvlan').createNetwork(network('viaRegistry', '10.96.0', { parent: 'eth0' })),
        /requires IPvlan support \(CONFIG_IPVLAN\)/,
      );
      const mv = { ...network('mv', '10.97.0', { parent: 'eth0' }), driver: 'macvlan' };
      await drivers.get('macvlan').createNetwork(mv);
      await drivers.get('macvlan').deleteNetwork(mv.id);
      // Bad settings are refused before the kernel is asked.
      await assert.rejects(
        d1.createNetwork(network('bad', '10.98.0', { parent: 'eth0', ipvlan_mode: 'l4' })),
        {
          name: 'NetworkDriverError',
          message: 'ipvlan_mode=l4 is not a ipvlan mode (one of l2, l3)',
        },
      );
      assert.equal(JSON.stringify(await linksIn(h1.netns)), before, "the node's links as they were");
      assert.deepEqual(await namespacesWithPrefix(`${lab.tag}-kp`), [], "the probe's namespace is gone");
    });
    return;
  }

  await t.test('l2: containers of two hosts reach each other, with the parent MAC', async () => {
    const sub = `${base}`;
    const net: NetworkConfig = {
      ...network('l2net', sub, { parent: 'eth0' }),
      subnets: [{ subnet: `${base}.0/24`, gateway: h2.address }],
    };
    await d1.createNetwork(net);
    await d2.createNetwork(net);
    await d1.createEndpoint(net.id, { id: 'a', address: `${base}.64/24` });
    await d2.createEndpoint(net.id, { id: 'b', address: `${base}.65/24` });
    const a = await d1.join(net.id, 'a', await sandbox('a'), { ifName: 'eth0', defaultRoute: true });
    await d2.join(net.id, 'b', await sandbox('b'), { ifName: 'eth0', defaultRoute: true });
    assert.deepEqual(a, { ifName: 'eth0', address: `${base}.64/24`, gateway: h2.address });
    const eth0 = (await linksIn(`${lab.tag}-a`)).find((l) => l.ifname === 'eth0')!;
    const parent = (await linksIn(h1.netns)).find((l) => l.ifname === 'eth0')!;
    assert.equal(eth0.linkinfo?.info_kind, 'ipvlan');
    assert.equal(eth0.address, parent.address, "the parent's MAC");
    assert.ok(await ping(`${lab.tag}-a`, `${base}.65`), 'a → b');
    for (const [d, ep] of [
      [d1, 'a'],
      [d2, 'b'],
    ] as const) {
      await d.leave(net.id, ep);
      await d.deleteEndpoint(net.id, ep);
      await d.deleteNetwork(net.id);
    }
  });

  await t.test('l3: default dev eth0, no gateway; reach across hosts with a route per host', async () => {
    const net1 = network('l3a', '10.61.1', { parent: 'eth0', ipvlan_mode: 'l3' });
    const net2 = network('l3b', '10.61.2', { parent: 'eth0', ipvlan_mode: 'l3' });
    await d1.createNetwork(net1);
    await d2.createNetwork(net2);
    await d1.createEndpoint(net1.id, { id: 'c', address: '10.61.1.2/24' });
    await d2.createEndpoint(net2.id, { id: 'd', address: '10.61.2.2/24' });
    const c = await d1.join(net1.id, 'c', await sandbox('c'), { ifName: 'eth0', defaultRoute: true });
    await d2.join(net2.id, 'd', await sandbox('d'), { ifName: 'eth0', defaultRoute: true });
    assert.deepEqual(c, { ifName: 'eth0', address: '10.61.1.2/24' });
    assert.match(await run('ip', ['-n', `${lab.tag}-c`, 'route', 'show', 'default']), /^default dev eth0/);
    // l3 sends from the node's routing table: each host needs the other's container subnet.
    await run('ip', ['-n', h1.netns, 'route', 'add', '10.61.2.0/24', 'via', h2.address]);
    await run('ip', ['-n', h2.netns, 'route', 'add', '10.61.1.0/24', 'via', h1.address]);
    assert.ok(await ping(`${lab.tag}-c`, '10.61.2.2'), 'c → d');
    await d1.leave(net1.id, 'c');
    await d1.deleteEndpoint(net1.id, 'c');
    await d1.deleteNetwork(net1.id);
    await d2.removeAll();
    assert.ok(!(await linksIn(`${lab.tag}-c`)).some((l) => l.ifname === 'eth0'), 'the leg left');
  });
});
