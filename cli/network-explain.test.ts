// `network inspect -v` of local bridge networks end to end: the CLI binary against a real daemon in a
// network namespace of its own (the node), a busybox container with `-p 8080:80` on a user bridge and
// one on the default bridge. The verbose output must name what the kernel has: the Linux bridge with
// its gateway address, the veth on it (checked against `ip link` of the node's namespace) with the
// container it leads into, and the DNAT rule of the published port (checked against `nft list`); and
// it must follow a disconnect. Needs root. Everything made is removed also when the test fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerRuntime } from '../daemon/executor.js';
import type { ProgrammedBridge } from '../worker/network/bridge/explain.js';
import { dockerSaveTar } from '../worker/images/test-images.js';
import { waitForDaemon } from './test-daemon.js';
import { busyboxTestImage, ok, spawnDaemonInNetns, stopped } from './test-cli.js';

const PREFIX = 'swltnx';
const NODE_NS = `${PREFIX}-node`;
const IMAGE = 'busybox:explain';

const dropNodeNs = () => spawnSync('ip', ['netns', 'del', NODE_NS], { stdio: 'ignore' });
const inNode = (args: string[]) =>
  execFileSync('ip', ['netns', 'exec', NODE_NS, ...args], { encoding: 'utf8' });

interface Inspected {
  Name: string;
  Programmed?: ProgrammedBridge | null;
}

async function programmed(socket: string, net: string): Promise<ProgrammedBridge> {
  const out = JSON.parse(await ok(socket, ['network', 'inspect', '-v', net])) as Inspected[];
  assert.equal(out.length, 1);
  assert.ok(out[0]!.Programmed, `no Programmed in ${JSON.stringify(out)}`);
  return out[0]!.Programmed;
}

test('network inspect -v of a bridge: its Linux bridge, the veths with their containers, the DNAT rule of -p', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-netexplain-'));
  const socket = join(dir, 's.sock');
  dropNodeNs();
  execFileSync('ip', ['netns', 'add', NODE_NS]);
  inNode(['ip', 'link', 'set', 'lo', 'up']);
  const daemon = spawnDaemonInNetns(NODE_NS, dir, socket, PREFIX);
  t.after(async () => {
    await stopped(daemon);
    await containerRuntime(join(dir, 'data'), join(dir, 'exec'), PREFIX, hostname()).removeEverything();
    dropNodeNs(); // its bridges, veth ends and nftables table go with it
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForDaemon(socket);
  writeFileSync(
    join(dir, 'image.tar'),
    await dockerSaveTar(await busyboxTestImage(['sh', 'sleep']), [IMAGE]),
  );
  await ok(socket, ['image', 'load', '-q', '-i', join(dir, 'image.tar')]);

  const netId = (await ok(socket, ['network', 'create', '--subnet', '10.77.0.0/24', 'webnet'])).trim();
  const webId = (
    await ok(socket, [
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'webnet',
      '-p',
      '8080:80',
      IMAGE,
      'sleep',
      '3600',
    ])
  ).trim();
  const plainId = (await ok(socket, ['run', '-d', '--name', 'plain', IMAGE, 'sleep', '3600'])).trim();

  // The user bridge: br-<12 of its id>, the gateway address, one veth leading into web's eth0.
  const p = await programmed(socket, 'webnet');
  const bridge = `br-${netId.slice(0, 12)}`;
  assert.deepEqual(p.Bridge, {
    Name: bridge,
    Present: true,
    Up: true,
    Mtu: 1500,
    Addresses: ['10.77.0.1/24'],
  });
  assert.equal(p.Veths.length, 1, JSON.stringify(p.Veths));
  const veth = p.Veths[0]!;
  assert.deepEqual(
    { ...veth, HostInterface: '' },
    {
      HostInterface: '',
      Master: bridge,
      Up: true,
      EndpointId: veth.EndpointId,
      Container: { Id: webId, Name: 'web' },
      ContainerInterface: 'eth0',
      ContainerAddress: '10.77.0.2/24',
    },
  );
  // ... and the kernel agrees: that veth is a port of that bridge in the node's namespace.
  assert.match(veth.HostInterface, /^veth[0-9a-f]{7}$/);
  const link = JSON.parse(inNode(['ip', '-j', 'link', 'show', veth.HostInterface])) as { master?: string }[];
  assert.equal(link[0]?.master, bridge);

  // The table's rules for it: isolation, masquerade, and the DNAT of 8080 to web:80 (prerouting and
  // output), as `nft list` of the node prints them; none of the default bridge's.
  const rules = p.Nftables.Rules.map((r) => `${r.Chain}: ${r.Rule}`);
  assert.equal(p.Nftables.Table, `${PREFIX}_bridge`);
  assert.ok(
    rules.includes('prerouting: fib daddr type local tcp dport 8080 dnat ip to 10.77.0.2:80'),
    rules.join('\n'),
  );
  assert.ok(
    rules.includes('output: fib daddr type local tcp dport 8080 dnat ip to 10.77.0.2:80'),
    rules.join('\n'),
  );
  assert.ok(
    rules.includes(`postrouting: ip saddr 10.77.0.0/24 oifname != "${bridge}" masquerade`),
    rules.join('\n'),
  );
  assert.ok(
    rules.includes(`forward: iifname "${bridge}" oifname @bridges oifname != "${bridge}" drop`),
    rules.join('\n'),
  );
  assert.ok(!rules.some((r) => r.includes('swl0') || r.includes('172.17.')), rules.join('\n'));
  const listed = inNode(['nft', 'list', 'table', 'inet', `${PREFIX}_bridge`]);
  for (const r of p.Nftables.Rules) assert.ok(listed.includes(r.Rule), `${r.Rule} not in\n${listed}`);

  // The default bridge: swl0 with 172.17.0.1, plain's veth; no DNAT.
  const d = await programmed(socket, 'bridge');
  assert.deepEqual(d.Bridge.Name, 'swl0');
  assert.deepEqual(d.Bridge.Addresses, ['172.17.0.1/16']);
  assert.deepEqual(
    d.Veths.map((v) => [v.Container?.Name, v.ContainerInterface, v.ContainerAddress]),
    [['plain', 'eth0', '172.17.0.2/16']],
  );
  assert.equal(d.Veths[0]!.Container?.Id, plainId);
  assert.ok(!d.Nftables.Rules.some((r) => r.Rule.includes('dnat ip to')), JSON.stringify(d.Nftables));

  // plain connected to webnet: a second veth, into plain's eth1; disconnected: gone again.
  await ok(socket, ['network', 'connect', 'webnet', 'plain']);
  const two = await programmed(socket, 'webnet');
  assert.deepEqual(two.Veths.map((v) => [v.Container?.Name, v.ContainerInterface]).sort(), [
    ['plain', 'eth1'],
    ['web', 'eth0'],
  ]);
  await ok(socket, ['network', 'disconnect', 'webnet', 'plain']);
  assert.deepEqual(
    (await programmed(socket, 'webnet')).Veths.map((v) => v.Container?.Name),
    ['web'],
  );

  // Without -v: no Programmed; host and none (no bridge): null.
  const plainInspect = JSON.parse(await ok(socket, ['network', 'inspect', 'webnet'])) as Inspected[];
  assert.equal('Programmed' in plainInspect[0]!, false);
  const host = JSON.parse(await ok(socket, ['network', 'inspect', '-v', 'host'])) as Inspected[];
  assert.equal(host[0]!.Programmed, null);

  await ok(socket, ['rm', '-f', 'web', 'plain']);
  assert.deepEqual((await programmed(socket, 'webnet')).Veths, []);
  assert.ok(!(await programmed(socket, 'webnet')).Nftables.Rules.some((r) => r.Rule.includes('dnat')));
  await ok(socket, ['network', 'rm', 'webnet']);
});
