// The bridge driver on a real kernel: a "node" namespace on a switch namespace with an outside host
// (underlay in a random 198.19.1xx.0/24), sandboxes as named namespaces, the node's links and nftables
// table checked after each step. Everything is named after a random tag that t.after deletes. Root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { requireTools, run } from '../../../lib/exec.js';
import { NetnsFixture } from '../../../lib/netns-fixture.js';
import type { NetworkConfig } from '../driver.js';
import { NullDriver } from '../null/driver.js';
import { BridgeDriver } from './driver.js';

const isRoot = process.getuid?.() === 0;

/** A TCP server on port 80 that tells each client the address it sees. */
const SERVER = `require('net').createServer((s) => s.end('from ' + s.remoteAddress)).listen(80, '0.0.0.0')`;
/** Prints what the server says; exits non-zero if nothing comes within 2 s. */
const client = (host: string, port: number) =>
  `const s = require('net').connect(${port}, '${host}'); let out = '';
   s.on('data', (d) => (out += d)); s.on('end', () => { process.stdout.write(out); process.exit(out ? 0 : 1); });
   s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 2000);`;
const netId = () => randomBytes(32).toString('hex');

function network(
  name: string,
  subnet: string,
  gateway: string,
  extra: Partial<NetworkConfig> = {},
): NetworkConfig {
  return {
    id: netId(),
    name,
    driver: 'bridge',
    subnets: [{ subnet, gateway }],
    internal: false,
    options: {},
    ...extra,
  };
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

test('bridge driver on real namespaces', { skip: !isRoot && 'needs root' }, async (t) => {
  requireTools(['ip', 'nft', 'ping', 'tcpdump']);
  const lab = new Lab(`brt${randomBytes(2).toString('hex')}`, `198.19.${randomInt(100, 200)}`);
  t.after(() => lab.destroy());
  await lab.createSwitch();
  const node = await lab.addHost(1);
  const outside = await lab.addHost(2);
  const driver = new BridgeDriver({ prefix: lab.tag, nodeNetns: node.netns });
  const table = `${lab.tag}_bridge`;
  const sandbox = async (name: string) => ({ id: name, netnsPath: `/run/netns/${await lab.addNetns(name)}` });
  const ns = (name: string) => `${lab.tag}-${name}`;
  const nodeIp = (...args: string[]) => run('ip', ['-n', node.netns, ...args]);

  const def = network('bridge', '172.17.0.0/16', '172.17.0.1', {
    options: { 'com.docker.network.bridge.default_bridge': 'true' },
  });
  const other = network('other', '172.19.0.0/16', '172.19.0.1', { mtu: 1400 });
  const internal = network('sealed', '172.20.0.0/16', '172.20.0.1', { internal: true });
  for (const n of [def, other, internal]) await driver.createNetwork(n);

  const plug = async (net: NetworkConfig, ep: string, address: string) => {
    await driver.createEndpoint(net.id, { id: ep, address });
    return driver.join(net.id, ep, await sandbox(ep), { ifName: 'eth0', defaultRoute: true });
  };
  const c1 = await plug(def, 'c1', '172.17.0.2/16');
  await plug(def, 'c2', '172.17.0.3/16');
  await plug(other, 'c3', '172.19.0.2/16');
  const c4 = await plug(internal, 'c4', '172.20.0.2/16');

  await t.test('bridges, legs and table are as planned', async () => {
    assert.deepEqual(c1, {
      ifName: 'eth0',
      address: '172.17.0.2/16',
      mac: '02:42:ac:11:00:02',
      gateway: '172.17.0.1',
    });
    assert.deepEqual(c4, { ifName: 'eth0', address: '172.20.0.2/16', mac: '02:42:ac:14:00:02' });
    const links = await driver.links();
    const swl0 = links.find((l) => l.ifName === 'swl0');
    assert.deepEqual(swl0?.addresses, ['172.17.0.1/16']);
    assert.equal(links.find((l) => l.ifName === `br-${other.id.slice(0, 12)}`)?.mtu, 1400);
    assert.equal(links.filter((l) => l.master === 'swl0').length, 2);
    const inC3 = await run('ip', ['-n', ns('c3'), '-j', 'link', 'show', 'eth0']);
    assert.equal((JSON.parse(inC3) as { mtu: number }[])[0]!.mtu, 1400);
    const routes = await run('ip', ['-n', ns('c4'), 'route', 'show', 'default']);
    assert.equal(routes.trim(), '', 'an internal network gives no default route');
    assert.match(
      await run('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', table]),
      /masquerade/,
    );
    assert.equal(
      (await run('ip', ['netns', 'exec', node.netns, 'sysctl', '-n', 'net.ipv4.ip_forward'])).trim(),
      '1',
    );
  });

  await t.test('two sandboxes on one bridge reach each other', async () => {
    assert.ok(await lab.ping(ns('c1'), '172.17.0.3'));
    assert.ok(await lab.ping(ns('c2'), '172.17.0.2'));
  });

  await t.test('a sandbox on another bridge cannot reach them, nor they it (isolation)', async () => {
    // Routes and forwarding allow it; only the table's isolation rules stand in the way.
    assert.ok(await lab.ping(ns('c3'), '172.19.0.1'), 'its own gateway answers');
    assert.ok(await lab.unreachable(ns('c3'), '172.17.0.2'));
    assert.ok(await lab.unreachable(ns('c1'), '172.19.0.2'));
    // Without the table the same ping passes: the isolation is the table's doing.
    await run('ip', ['netns', 'exec', node.netns, 'nft', 'delete', 'table', 'inet', table]);
    assert.ok(await lab.ping(ns('c3'), '172.17.0.2'), 'reachable without the table');
    await driver.createNetwork(other);
    assert.ok(await lab.unreachable(ns('c3'), '172.17.0.2'), 'isolated again once the table is back');
  });

  await t.test('leaving the node is masqueraded to the node address', async () => {
    const capture = lab.spawnIn(outside.netns, ['tcpdump', '-nn', '-l', '-c', '1', '-i', 'eth0', 'icmp']);
    let captured = '';
    capture.stdout?.on('data', (d: Buffer) => (captured += d.toString()));
    await new Promise<void>((resolve) =>
      capture.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    // The outside host has no route to 172.17.0.0/16: only a masqueraded request gets an answer.
    assert.ok(await lab.ping(ns('c1'), outside.address), 'c1 → outside');
    await Promise.race([once(capture, 'close'), new Promise((r) => setTimeout(r, 5000))]);
    assert.match(captured, new RegExp(`IP ${node.address} > ${outside.address}: ICMP echo request`));
  });

  await t.test(
    'a published port answers from another host, from the node and from the same bridge',
    async () => {
      await driver.createEndpoint(def.id, {
        id: 'w1',
        address: '172.17.0.9/16',
        ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }],
      });
      await driver.join(def.id, 'w1', await sandbox('w1'), { ifName: 'eth0', defaultRoute: true });
      lab.spawnIn(ns('w1'), ['node', '-e', SERVER]);
      const ask = (from: string, to: string) => lab.execIn(from, ['node', '-e', client(to, 8080)]);
      let first = await ask(outside.netns, node.address);
      for (let i = 0; i < 20 && first.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        first = await ask(outside.netns, node.address);
      }
      assert.equal(first.out, `from ${outside.address}`, 'another host, its address preserved');
      assert.equal((await ask(node.netns, node.address)).code, 0, 'the node, to its own address');
      assert.equal((await ask(node.netns, '127.0.0.1')).code, 0, 'the node, to 127.0.0.1');
      const hairpin = await ask(ns('c2'), node.address);
      assert.equal(hairpin.out, 'from 172.17.0.1', 'a container on the same bridge (hairpin, masqueraded)');
      assert.equal((await ask(ns('w1'), node.address)).out, 'from 172.17.0.1', 'the container itself');
      await assert.rejects(
        driver.createEndpoint(other.id, {
          id: 'w2',
          address: '172.19.0.9/16',
          ports: [{ protocol: 'tcp', containerPort: 81, hostPort: 8080 }],
        }),
        /Bind for 0.0.0.0:8080\/tcp failed: port is already allocated/,
      );
      await driver.leave(def.id, 'w1');
      assert.notEqual((await ask(outside.netns, node.address)).code, 0, 'gone with the leave');
      const rules = await run('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', table]);
      assert.ok(!rules.includes('dnat ip to'), rules);
      await driver.deleteEndpoint(def.id, 'w1');
    },
  );

  await t.test('an internal network has no way out, even with a route', async () => {
    assert.ok(await lab.ping(ns('c4'), '172.20.0.1'), 'its own gateway answers');
    await run('ip', ['-n', ns('c4'), 'route', 'add', 'default', 'via', '172.20.0.1']);
    assert.ok(await lab.unreachable(ns('c4'), outside.address));
    assert.ok(await lab.unreachable(ns('c4'), '172.17.0.2'));
    assert.ok(await lab.unreachable(ns('c1'), '172.20.0.2'));
  });

  await t.test('repeated calls change nothing; misuse is refused with nothing changed', async () => {
    const before = JSON.stringify(await driver.links());
    await driver.createNetwork(def);
    await driver.createEndpoint(def.id, { id: 'c1', address: '172.17.0.2/16' });
    await driver.join(
      def.id,
      'c1',
      { id: 'c1', netnsPath: `/run/netns/${ns('c1')}` },
      { ifName: 'eth0', defaultRoute: true },
    );
    assert.equal(JSON.stringify(await driver.links()), before);
    await assert.rejects(driver.deleteNetwork(def.id), /has active endpoints/);
    await assert.rejects(driver.createNetwork(network('clash', '172.17.5.0/24', '172.17.5.1')), /overlaps/);
    await assert.rejects(
      driver.createEndpoint(def.id, { id: 'c9', address: '10.9.0.2/16' }),
      /not a host address/,
    );
    await nodeIp('link', 'add', 'name', 'foreignbr', 'type', 'bridge');
    const taken = network('taken', '172.30.0.0/16', '172.30.0.1', {
      options: { 'com.docker.network.bridge.name': 'foreignbr' },
    });
    await assert.rejects(driver.createNetwork(taken), /already exists on this node and is not the bridge/);
    await assert.rejects(driver.createEndpoint(taken.id, { id: 'x', address: '172.30.0.2/16' }), /not found/);
    const links = await driver.links();
    assert.equal(
      links.find((l) => l.ifName === 'foreignbr')?.alias,
      undefined,
      'the foreign bridge untouched',
    );
    assert.equal(JSON.stringify(links.filter((l) => l.ifName !== 'foreignbr')), before);
  });

  await t.test('an interrupted join (leg made, not on the bridge) is finished by the next one', async () => {
    const leg = (await driver.links()).find((l) => l.master === 'swl0' && l.alias?.includes('ep=c2'))!;
    await nodeIp('link', 'set', leg.ifName, 'nomaster');
    await driver.join(
      def.id,
      'c2',
      { id: 'c2', netnsPath: `/run/netns/${ns('c2')}` },
      { ifName: 'eth0', defaultRoute: true },
    );
    assert.ok(await lab.ping(ns('c1'), '172.17.0.3'));
  });

  await t.test('leave, delete: the leg, then the bridge go', async () => {
    await driver.leave(other.id, 'c3');
    await driver.leave(other.id, 'c3');
    await driver.deleteEndpoint(other.id, 'c3');
    await driver.deleteNetwork(other.id);
    await driver.deleteNetwork(other.id);
    const links = await driver.links();
    assert.ok(!links.some((l) => l.alias?.includes(other.id)));
    assert.ok(!(await run('ip', ['-n', ns('c3'), 'link'])).includes('eth0'), 'the sandbox end went too');
    const rules = await run('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', table]);
    assert.ok(!rules.includes('172.19.0.0/16'));
  });

  await t.test('none: a sandbox with only lo, up', async () => {
    const none = new NullDriver();
    const id = netId();
    await none.createNetwork({ id, name: 'none', driver: 'null', subnets: [], internal: false, options: {} });
    const raw = ns('c5');
    await run('ip', ['netns', 'add', raw]);
    await none.createEndpoint(id, { id: 'c5' });
    await none.join(
      id,
      'c5',
      { id: 'c5', netnsPath: `/run/netns/${raw}` },
      { ifName: 'eth0', defaultRoute: true },
    );
    const links = JSON.parse(await run('ip', ['-n', raw, '-j', 'link', 'show'])) as {
      ifname: string;
      flags: string[];
    }[];
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
    );
    assert.ok(links[0]!.flags.includes('UP'));
  });

  await t.test('removeAll leaves nothing of the driver on the node', async () => {
    await driver.removeAll();
    await driver.removeAll();
    const links = await driver.links();
    assert.deepEqual(
      links.filter((l) => l.alias?.startsWith('swarmlite-bridge')),
      [],
    );
    const tables = await run('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'tables']);
    assert.ok(!tables.includes(table));
    assert.ok(
      links.some((l) => l.ifName === 'foreignbr'),
      'only what it made',
    );
  });
});
