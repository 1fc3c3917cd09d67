// The macvlan driver on a real kernel: three lab hosts on a switch namespace (underlay in a random
// 198.18.1xx.0/24), a macvlan network with parent each host's underlay interface on hosts 1 and 2, one
// container namespace on each. Everything is named after a random tag that t.after deletes (the
// drivers' kernel probes name their namespaces after it too). Root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { randomBytes, randomInt } from 'node:crypto';
import { requireTools, run } from '../../../lib/exec.js';
import { NetnsFixture, namespacesWithPrefix } from '../../../lib/netns-fixture.js';
import type { NetworkConfig } from '../driver.js';
import { allocateAddress } from '../ipam.js';
import { probeKernel, type KernelFeature } from './kernel.js';
import { IpvlanDriver } from '../ipvlan/driver.js';
import { MacvlanDriver } from './driver.js';

const isRoot = process.getuid?.() === 0;

/**
 * Whether the kernel has a feature, from its build configuration when it publishes one (a source
 * independent of the driver's probe), else from the probe.
 */
async function kernelHas(tag: string, feature: KernelFeature): Promise<boolean> {
  const option = { vlan: 'CONFIG_VLAN_8021Q', ipvlan: 'CONFIG_IPVLAN', dummy: 'CONFIG_DUMMY' }[feature];
  if (existsSync('/proc/config.gz')) {
    const config = gunzipSync(readFileSync('/proc/config.gz')).toString();
    return new RegExp(`^${option}=[ym]$`, 'm').test(config);
  }
  return probeKernel(tag, feature);
}

class Lab extends NetnsFixture {
  async ping(netns: string, target: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if ((await this.execIn(netns, ['ping', '-n', '-c', '1', '-W', '1', target])).code === 0) return true;
    }
    return false;
  }

  /** No answer within 0.3 s (answers inside one machine take well under 1 ms). */
  async unreachable(netns: string, target: string): Promise<boolean> {
    return (await this.execIn(netns, ['ping', '-n', '-c', '1', '-W', '0.3', target])).code !== 0;
  }
}

const linksIn = async (netns: string) =>
  JSON.parse(await run('ip', ['-n', netns, '-d', '-j', 'addr', 'show'])) as {
    ifname: string;
    address: string;
    ifalias?: string;
    linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
    addr_info: { local: string; prefixlen: number }[];
  }[];

test('macvlan driver on real namespaces', { skip: !isRoot && 'needs root' }, async (t) => {
  requireTools(['ip', 'ping']);
  const base = `198.18.${randomInt(100, 250)}`;
  const lab = new Lab(`mvt${randomBytes(2).toString('hex')}`, base);
  t.after(() => lab.destroy());
  await lab.createSwitch();
  const h1 = await lab.addHost(1);
  const h2 = await lab.addHost(2);
  const h3 = await lab.addHost(3);
  const d1 = new MacvlanDriver({ prefix: lab.tag, nodeNetns: h1.netns });
  const d2 = new MacvlanDriver({ prefix: lab.tag, nodeNetns: h2.netns });
  const ns = (name: string) => `${lab.tag}-${name}`;
  const sandbox = async (name: string) => ({ id: name, netnsPath: `/run/netns/${await lab.addNetns(name)}` });

  // The hosts' own subnet, containers from .64/26, the gateway the third host (a router would be).
  const sub = { subnet: `${base}.0/24`, gateway: h3.address, ipRange: `${base}.64/26` };
  const lan: NetworkConfig = {
    id: randomBytes(32).toString('hex'),
    name: 'lan',
    driver: 'macvlan',
    subnets: [sub],
    internal: false,
    options: { parent: 'eth0' },
  };
  await d1.createNetwork(lan);
  await d2.createNetwork(lan);
  const a1 = allocateAddress(sub, []);
  const a2 = allocateAddress(sub, [a1.split('/')[0]!]);
  await d1.createEndpoint(lan.id, { id: 'c1', address: a1 });
  await d2.createEndpoint(lan.id, { id: 'c2', address: a2 });
  const c1 = await d1.join(lan.id, 'c1', await sandbox('c1'), { ifName: 'eth0', defaultRoute: true });
  await d2.join(lan.id, 'c2', await sandbox('c2'), { ifName: 'eth0', defaultRoute: true });
  const ip1 = a1.split('/')[0]!;
  const ip2 = a2.split('/')[0]!;

  await t.test(
    'the leg is a macvlan in bridge mode on the parent, addressed, with the default route',
    async () => {
      assert.equal(a1, `${base}.64/24`);
      const mac = ['02', '42', ...ip1.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(
        ':',
      );
      assert.deepEqual(c1, { ifName: 'eth0', address: a1, mac, gateway: h3.address });
      const eth0 = (await linksIn(ns('c1'))).find((l) => l.ifname === 'eth0')!;
      assert.equal(eth0.linkinfo?.info_kind, 'macvlan');
      assert.equal(eth0.linkinfo?.info_data?.mode, 'bridge');
      assert.equal(eth0.address, mac);
      assert.deepEqual(
        eth0.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
        [a1],
      );
      assert.match(
        await run('ip', ['-n', ns('c1'), 'route', 'show', 'default']),
        new RegExp(`default via ${h3.address} dev eth0`),
      );
      assert.ok(
        !(await d1.nodeLinks()).some((l) => l.alias?.startsWith('swarmlite-macvlan')),
        'nothing of it left on the node',
      );
    },
  );

  await t.test(
    'containers on two hosts reach each other and another lab host; their own host only through a macvlan leg of its own',
    async () => {
      assert.ok(await lab.ping(ns('c1'), ip2), 'c1 → c2');
      assert.ok(await lab.ping(ns('c2'), ip1), 'c2 → c1');
      assert.ok(await lab.ping(ns('c1'), h3.address), 'c1 → the third host');
      assert.ok(await lab.ping(ns('c2'), h3.address), 'c2 → the third host');
      assert.ok(await lab.ping(ns('c1'), h2.address), "c1 → the other container's host");
      assert.ok(await lab.ping(h3.netns, ip1), 'the third host → c1');
      // The macvlan rule (README): a host does not reach its own macvlan containers through the parent.
      assert.ok(await lab.unreachable(h1.netns, ip1), 'h1 cannot reach its own c1');
      assert.ok(await lab.unreachable(ns('c1'), h1.address), 'nor c1 its own host');
      // The usual fix (README): a macvlan leg for the host on the same parent, and a route through it.
      await run('ip', [
        '-n',
        h1.netns,
        'link',
        'add',
        'mvhost',
        'link',
        'eth0',
        'type',
        'macvlan',
        'mode',
        'bridge',
      ]);
      await run('ip', ['-n', h1.netns, 'addr', 'add', `${base}.254/32`, 'dev', 'mvhost']);
      await run('ip', ['-n', h1.netns, 'link', 'set', 'mvhost', 'up']);
      await run('ip', ['-n', h1.netns, 'route', 'add', `${ip1}/32`, 'dev', 'mvhost']);
      assert.ok(await lab.ping(h1.netns, ip1), 'h1 reaches c1 through its own macvlan leg');
      await run('ip', ['-n', h1.netns, 'link', 'del', 'mvhost']);
    },
  );

  await t.test('repeated calls change nothing', async () => {
    const before = [JSON.stringify(await linksIn(h1.netns)), JSON.stringify(await linksIn(ns('c1')))];
    await d1.createNetwork(lan);
    await d1.createEndpoint(lan.id, { id: 'c1', address: a1 });
    await d1.join(
      lan.id,
      'c1',
      { id: 'c1', netnsPath: `/run/netns/${ns('c1')}` },
      { ifName: 'eth0', defaultRoute: true },
    );
    assert.deepEqual(
      [JSON.stringify(await linksIn(h1.netns)), JSON.stringify(await linksIn(ns('c1')))],
      before,
    );
  });

  await t.test('bad input and missing kernel features: one clear error each, nothing changed', async () => {
    const before = JSON.stringify(await linksIn(h1.netns));
    const other = (name: string, subnet: string, options: Record<string, string>): NetworkConfig => ({
      id: randomBytes(32).toString('hex'),
      name,
      driver: 'macvlan',
      subnets: [{ subnet: `${subnet}.0/24`, gateway: `${subnet}.1` }],
      internal: false,
      options,
    });
    await assert.rejects(d1.createNetwork(other('nowhere', '10.91.0', { parent: 'eth9' })), {
      name: 'NetworkDriverError',
      message: 'parent interface eth9 does not exist on this node',
    });
    await assert.rejects(
      d1.createNetwork(other('second', '10.92.0', { parent: 'eth0', macvlan_mode: 'private' })),
      {
        name: 'NetworkDriverError',
        message: /^parent interface eth0 is already used by macvlan network lan \(mode bridge\)/,
      },
    );
    await assert.rejects(d1.createNetwork(other('overlap', base, { parent: 'eth0.100' })), {
      name: 'NetworkDriverError',
      message: `a subnet of network overlap overlaps ${base}.0/24 of macvlan network lan`,
    });
    await assert.rejects(
      d1.createEndpoint(lan.id, { id: 'c9', address: '10.9.0.2/16' }),
      /not a host address/,
    );
    await assert.rejects(d1.deleteNetwork(lan.id), /has active endpoints \(c1\)/);
    await assert.rejects(
      d1.join(
        lan.id,
        'c1',
        { id: 'c7', netnsPath: `/run/netns/${ns('c2')}` },
        { ifName: 'eth1', defaultRoute: false },
      ),
      { name: 'NetworkDriverError', message: 'endpoint c1 is already joined to sandbox c1' },
    );
    await assert.rejects(
      d1.createEndpoint(lan.id, {
        id: 'c8',
        address: `${base}.70/24`,
        ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }],
      }),
      /ports cannot be published on macvlan network lan/,
    );

    const vlanNet = other('vlan100', '10.93.0', { parent: 'eth0.100' });
    if (!(await kernelHas(lab.tag, 'vlan'))) {
      await assert.rejects(d1.createNetwork(vlanNet), {
        name: 'NetworkDriverError',
        message:
          'parent eth0.100 (VLAN 100 on eth0, made by the driver) requires 802.1Q VLAN support (CONFIG_VLAN_8021Q), which this kernel lacks',
      });
    } else {
      await d1.createNetwork(vlanNet);
      const vlan = (await linksIn(h1.netns)).find((l) => l.ifname === 'eth0.100');
      assert.equal(vlan?.linkinfo?.info_kind, 'vlan');
      await d1.deleteNetwork(vlanNet.id);
    }
    const dummyNet = other('isolated', '10.94.0', {});
    if (!(await kernelHas(lab.tag, 'dummy'))) {
      await assert.rejects(d1.createNetwork(dummyNet), {
        name: 'NetworkDriverError',
        message: new RegExp(
          `^macvlan network isolated without -o parent \\(Docker's dummy parent dm-${dummyNet.id.slice(0, 12)}\\) requires dummy network device support \\(CONFIG_DUMMY\\), which this kernel lacks; give -o parent=IFACE$`,
        ),
      });
    } else {
      await d1.createNetwork(dummyNet);
      assert.ok((await linksIn(h1.netns)).some((l) => l.ifname === `dm-${dummyNet.id.slice(0, 12)}`));
      await d1.deleteNetwork(dummyNet.id);
    }
    const ipvlan = new IpvlanDriver({ prefix: lab.tag, nodeNetns: h2.netns });
    const ipvlanNet = { ...other('ipv', '10.95.0', { parent: 'eth0' }), driver: 'ipvlan' };
    if (!(await kernelHas(lab.tag, 'ipvlan'))) {
      await assert.rejects(ipvlan.createNetwork(ipvlanNet), {
        name: 'NetworkDriverError',
        message:
          'the ipvlan driver (network ipv) requires IPvlan support (CONFIG_IPVLAN), which this kernel lacks',
      });
    } else {
      await ipvlan.createNetwork(ipvlanNet);
      await ipvlan.deleteNetwork(ipvlanNet.id);
    }
    await assert.rejects(d1.createEndpoint(vlanNet.id, { id: 'x', address: '10.93.0.2/24' }), /not found/);
    assert.equal(JSON.stringify(await linksIn(h1.netns)), before, "the node's links as they were");
    assert.deepEqual(await namespacesWithPrefix(`${lab.tag}-kp`), [], "the probes' namespaces are gone");
  });

  await t.test('an interrupted join (leg moved in, not renamed) is finished by the next one', async () => {
    const eth0 = (await linksIn(ns('c2'))).find((l) => l.ifname === 'eth0')!;
    await run('ip', ['-n', ns('c2'), 'link', 'set', 'eth0', 'down']);
    await run('ip', ['-n', ns('c2'), 'link', 'set', 'eth0', 'name', 'mvtmpleft']);
    await d2.join(
      lan.id,
      'c2',
      { id: 'c2', netnsPath: `/run/netns/${ns('c2')}` },
      { ifName: 'eth0', defaultRoute: true },
    );
    const after = await linksIn(ns('c2'));
    assert.deepEqual(after.map((l) => l.ifname).sort(), ['eth0', 'lo']);
    assert.equal(after.find((l) => l.ifname === 'eth0')?.ifalias, eth0.ifalias);
    assert.ok(await lab.ping(ns('c1'), ip2));
  });

  await t.test('leave and delete remove the leg and nothing of the parent', async () => {
    await d2.leave(lan.id, 'c2');
    await d2.leave(lan.id, 'c2');
    await d2.deleteEndpoint(lan.id, 'c2');
    await d2.deleteNetwork(lan.id);
    await d2.deleteNetwork(lan.id);
    assert.deepEqual(
      (await linksIn(ns('c2'))).map((l) => l.ifname),
      ['lo'],
    );
    const parent = (await linksIn(h2.netns)).find((l) => l.ifname === 'eth0')!;
    assert.deepEqual(
      parent.addr_info.map((a) => a.local),
      [h2.address],
      "the user's parent stays as it was",
    );
    assert.ok(await lab.ping(h2.netns, h3.address));
    assert.ok(await lab.unreachable(ns('c1'), ip2));
  });

  await t.test(
    'private mode: containers of one host do not reach each other, but do reach the wire',
    async () => {
      const priv: NetworkConfig = {
        ...lan,
        id: randomBytes(32).toString('hex'),
        name: 'priv',
        options: { parent: 'eth0', macvlan_mode: 'private' },
      };
      await d2.createNetwork(priv);
      for (const [ep, last] of [
        ['c3', 80],
        ['c4', 81],
      ] as const) {
        await d2.createEndpoint(priv.id, { id: ep, address: `${base}.${last}/24` });
        await d2.join(priv.id, ep, await sandbox(ep), { ifName: 'eth0', defaultRoute: true });
      }
      const eth0 = (await linksIn(ns('c3'))).find((l) => l.ifname === 'eth0')!;
      assert.equal(eth0.linkinfo?.info_data?.mode, 'private');
      assert.ok(await lab.ping(ns('c3'), h3.address), 'c3 → the third host');
      assert.ok(await lab.ping(ns('c3'), ip1), 'c3 → c1 on the other host');
      assert.ok(await lab.unreachable(ns('c3'), `${base}.81`), 'c3 ↛ c4 on the same parent');
      for (const ep of ['c3', 'c4']) {
        await d2.leave(priv.id, ep);
        await d2.deleteEndpoint(priv.id, ep);
      }
      await d2.deleteNetwork(priv.id);
    },
  );

  await t.test('removeAll unplugs what it made and leaves the rest', async () => {
    await d1.removeAll();
    await d1.removeAll();
    assert.deepEqual(
      (await linksIn(ns('c1'))).map((l) => l.ifname),
      ['lo'],
    );
    assert.ok((await linksIn(h1.netns)).some((l) => l.ifname === 'eth0'));
    await assert.rejects(d1.createEndpoint(lan.id, { id: 'c1', address: a1 }), /not found/);
  });
});
