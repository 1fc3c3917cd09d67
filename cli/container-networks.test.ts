// Standalone containers on local bridge networks end to end: the CLI binary against a real daemon
// running in a network namespace of its own (standing for the node, so its bridges and nftables table
// never touch the machine's), busybox containers on the real runtime. A user bridge whose containers
// ping each other and a second bridge that cannot reach them, `-p 8080:80` answering busybox httpd
// from the node (curl), `-P` on the first ephemeral port, `port` and `inspect` output, refusals (a network in
// use, an overlapping subnet, an unknown driver, a taken host port, an unknown network) with nothing
// changed, and published ports replayed by a restarted daemon. Needs root. Everything made is removed
// also when the test fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from '../test/support.js';
import { leftovers } from '../worker/exec/test-fixtures.js';
import { busyboxTestImage, cli, ok, refused, TestNode } from './test-cli.js';

const PREFIX = 'swltcn';
const NODE_NS = `${PREFIX}-node`;
const IMAGE = 'busybox:net';
const APPLETS = ['sh', 'sleep', 'ping', 'httpd', 'wget', 'mkdir', 'echo', 'cat'];
const SERVE = [
  'sh',
  '-c',
  'mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www',
];

/** curl from the node's namespace: the page, or undefined when nothing answered. */
function fetchFromNode(url: string): string | undefined {
  const r = spawnSync('ip', ['netns', 'exec', NODE_NS, 'curl', '-s', '-m', '3', url], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.status === 0 ? r.stdout : undefined;
}

test('containers on local bridges: ping within a bridge, isolation between bridges, -p/-P, port, refusals, replay', async (t) => {
  const node = await TestNode.start(t, PREFIX, 'ctrnet');
  const { dir, socket } = node;
  await node.loadImage(await busyboxTestImage(APPLETS, { ExposedPorts: { '80/tcp': {} } }), IMAGE);

  // A fresh node has bridge, host and none, local.
  const ls = await ok(socket, ['network', 'ls']);
  assert.match(ls, /^NETWORK ID +NAME +DRIVER +SCOPE$/m);
  for (const [name, driver] of [
    ['bridge', 'bridge'],
    ['host', 'host'],
    ['none', 'null'],
  ])
    assert.match(ls, new RegExp(`^[0-9a-f]{12} +${name} +${driver} +local$`, 'm'));

  // Two user bridges from the default pools (172.18 is the gateway bridge's).
  const appId = (await ok(socket, ['network', 'create', 'appnet'])).trim();
  assert.match(appId, /^[0-9a-f]{64}$/);
  await ok(socket, ['network', 'create', 'othernet']);
  const appInspect = JSON.parse(await ok(socket, ['network', 'inspect', 'appnet'])) as {
    Id: string;
    Driver: string;
    Scope: string;
    IPAM: { Config: { Subnet: string; Gateway: string }[] };
  }[];
  assert.equal(appInspect[0]!.Id, appId);
  assert.equal(appInspect[0]!.Scope, 'local');
  assert.deepEqual(appInspect[0]!.IPAM.Config, [{ Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' }]);

  for (const [name, net] of [
    ['a1', 'appnet'],
    ['a2', 'appnet'],
    ['b1', 'othernet'],
  ])
    await ok(socket, ['run', '-d', '--name', name!, '--network', net!, IMAGE, 'sleep', '3600']);
  const ipOf = async (name: string, net: string) =>
    (await ok(socket, ['inspect', '-f', `{{.NetworkSettings.Networks.${net}.IPAddress}}`, name])).trim();
  assert.equal(await ipOf('a1', 'appnet'), '172.19.0.2');
  assert.equal(await ipOf('a2', 'appnet'), '172.19.0.3');
  assert.equal(await ipOf('b1', 'othernet'), '172.20.0.2');
  const netInspect = JSON.parse(await ok(socket, ['network', 'inspect', 'appnet'])) as {
    Containers: Record<string, { Name: string; IPv4Address: string }>;
  }[];
  assert.deepEqual(
    Object.values(netInspect[0]!.Containers)
      .map((c) => [c.Name, c.IPv4Address])
      .sort(),
    [
      ['a1', '172.19.0.2/16'],
      ['a2', '172.19.0.3/16'],
    ],
  );

  // Same bridge: they reach each other; another bridge: it cannot.
  await eventually(
    'a2 to ping a1',
    async () => (await cli(socket, ['exec', 'a2', 'ping', '-c', '1', '-W', '2', '172.19.0.2'])).code === 0,
  );
  assert.equal((await cli(socket, ['exec', 'a1', 'ping', '-c', '1', '-W', '2', '172.19.0.3'])).code, 0);
  const across = await cli(socket, ['exec', 'b1', 'ping', '-c', '2', '-W', '1', '172.19.0.2']);
  assert.notEqual(across.code, 0, `othernet reached appnet: ${across.stdout}`);

  // -p 8080:80 on the default bridge: httpd answers from the node (its loopback and its bridge address).
  await ok(socket, ['run', '-d', '--name', 'web', '--hostname', 'web', '-p', '8080:80', IMAGE, ...SERVE]);
  assert.equal(await ok(socket, ['port', 'web']), '80/tcp -> 0.0.0.0:8080\n');
  assert.equal(await ok(socket, ['port', 'web', '80']), '0.0.0.0:8080\n');
  assert.equal(
    await ok(socket, [
      'inspect',
      '-f',
      '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{json .NetworkSettings.Ports}}',
      'web',
    ]),
    '172.17.0.2 172.17.0.1 {"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}\n',
  );
  await eventually(
    'web on 127.0.0.1:8080',
    () => fetchFromNode('http://127.0.0.1:8080/') === 'hello from web\n',
  );
  assert.equal(fetchFromNode('http://172.17.0.1:8080/'), 'hello from web\n');

  // -P: the image's exposed 80/tcp on the first port of Docker's ephemeral range.
  await ok(socket, ['run', '-d', '--name', 'any', '--hostname', 'any', '-P', IMAGE, ...SERVE]);
  assert.equal(await ok(socket, ['port', 'any']), '80/tcp -> 0.0.0.0:32768\n');
  await eventually(
    'any on 127.0.0.1:32768',
    () => fetchFromNode('http://127.0.0.1:32768/') === 'hello from any\n',
  );

  // Refusals, each one line, nothing changed.
  const before = [await ok(socket, ['network', 'ls']), await ok(socket, ['ps', '-a', '-q'])];
  await refused(
    socket,
    ['network', 'rm', 'appnet'],
    /error while removing network: network appnet id [0-9a-f]{64} has active endpoints \(a1, a2\)|\(a2, a1\)/,
  );
  await refused(socket, ['network', 'rm', 'bridge'], /bridge is a pre-defined network and cannot be removed/);
  await refused(
    socket,
    ['network', 'create', '--subnet', '172.19.1.0/24', 'clash'],
    /subnet 172.19.1.0\/24 overlaps with 172.19.0.0\/16/,
  );
  await refused(
    socket,
    ['network', 'create', '-d', 'weave', 'wv'],
    /unknown network driver 'weave' \(available: bridge, host, ipvlan, macvlan, null\)/,
  );
  await refused(socket, ['network', 'create', 'appnet'], /network with name appnet already exists/);
  await refused(
    socket,
    ['run', '-d', '-p', '8080:80', IMAGE, 'sleep', '60'],
    /Bind for 0.0.0.0:8080 failed: port is already allocated/,
  );
  await refused(
    socket,
    ['run', '-d', '--network', 'nosuch', IMAGE, 'sleep', '60'],
    /network nosuch not found/,
  );
  assert.deepEqual([await ok(socket, ['network', 'ls']), await ok(socket, ['ps', '-a', '-q'])], before);
  assert.match(await ok(socket, ['ps']), /0\.0\.0\.0:8080->80\/tcp +web$/m);

  // A restarted daemon replays the networks and the published ports (kept in the records).
  await node.restartDaemon();
  await eventually(
    'web on 127.0.0.1:8080',
    () => fetchFromNode('http://127.0.0.1:8080/') === 'hello from web\n',
  );
  assert.equal(fetchFromNode('http://127.0.0.1:32768/'), 'hello from any\n');
  assert.equal(await ok(socket, ['port', 'any']), '80/tcp -> 0.0.0.0:32768\n');
  assert.equal((await cli(socket, ['exec', 'a2', 'ping', '-c', '1', '-W', '2', '172.19.0.2'])).code, 0);
  // The addresses held are not handed out again.
  await ok(socket, ['run', '-d', '--name', 'a3', '--network', 'appnet', IMAGE, 'sleep', '3600']);
  assert.equal(await ipOf('a3', 'appnet'), '172.19.0.4');

  // Removed containers free their network; then it goes.
  await ok(socket, ['rm', '-f', 'a1', 'a2', 'a3', 'b1', 'web', 'any']);
  assert.equal(fetchFromNode('http://127.0.0.1:8080/'), undefined);
  assert.equal(await ok(socket, ['network', 'rm', 'appnet', 'othernet']), 'appnet\nothernet\n');
  const after = await ok(socket, ['network', 'ls', '-q']);
  assert.equal(after.trim().split('\n').length, 3);
  assert.deepEqual(leftovers(`${PREFIX}c`, join(dir, 'data', 'containers', 'run')), []);
});
