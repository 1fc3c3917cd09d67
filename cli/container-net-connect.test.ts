// `network connect/disconnect` end to end: the CLI binary against a real daemon in a network namespace
// of its own (standing for the node), busybox containers on the real runtime. Two user bridges n1, n2:
// c1 runs on n1 and is connected to n2 live (eth0 on n1, eth1 on n2, seen with `ip` inside it; the
// default route stays n1's), reaches c2 on n2, and `inspect` shows both; a created container connected
// with --ip/--alias has them at its start; a restarted daemon keeps every leg; refusals (connect twice,
// unknown network or container, --ip outside the subnet or taken, host and none, disconnect from a
// network it is not on, `network rm` of a network in use) change nothing; disconnect removes the
// interface and hands the default route to the next network with a gateway. Needs root. Everything
// made is removed also when the test fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../test/support.js';
import { leftovers } from '../worker/exec/test-fixtures.js';
import { busyboxTestImage, cli, ok, refused, TestNode } from './test-cli.js';

const PREFIX = 'swltnc';
const IMAGE = 'busybox:connect';
const APPLETS = ['sh', 'sleep', 'ping', 'ip'];

/** `ip -o -4 addr` inside the container: its interfaces and addresses, `eth0 172.30.1.2/24`, sorted. */
async function addresses(socket: string, name: string): Promise<string[]> {
  const out = await ok(socket, ['exec', name, 'ip', '-o', '-4', 'addr', 'show']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w.length > 3 && w[1] !== 'lo')
    .map((w) => `${w[1]} ${w[3]}`)
    .sort();
}

const defaultRoute = async (socket: string, name: string) =>
  (await ok(socket, ['exec', name, 'ip', 'route', 'show', 'default'])).trim();

const networksOf = async (socket: string, name: string) =>
  JSON.parse(await ok(socket, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', name])) as Record<
    string,
    { IPAddress: string; Gateway: string; Aliases: string[] | null }
  >;

const pings = async (socket: string, from: string, to: string) =>
  (await cli(socket, ['exec', from, 'ping', '-c', '1', '-W', '2', to])).code === 0;

test('network connect/disconnect: a second interface live and at start, inspect, refusals, replay', async (t) => {
  const node = await TestNode.start(t, PREFIX, 'netconn');
  const { dir, socket } = node;
  await node.loadImage(await busyboxTestImage(APPLETS), IMAGE);

  await ok(socket, ['network', 'create', '--subnet', '172.30.1.0/24', 'n1']);
  await ok(socket, ['network', 'create', '--subnet', '172.30.2.0/24', 'n2']);
  await ok(socket, ['run', '-d', '--name', 'c1', '--network', 'n1', IMAGE, 'sleep', '3600']);
  await ok(socket, ['run', '-d', '--name', 'c2', '--network', 'n2', IMAGE, 'sleep', '3600']);
  assert.deepEqual(await addresses(socket, 'c1'), ['eth0 172.30.1.2/24']);
  assert.equal(await pings(socket, 'c1', '172.30.2.2'), false, 'n1 reached n2 before any connect');

  // Connected while running: eth1 on n2, plugged in at once; the default route stays n1's.
  assert.equal(await ok(socket, ['network', 'connect', 'n2', 'c1']), '');
  assert.deepEqual(await addresses(socket, 'c1'), ['eth0 172.30.1.2/24', 'eth1 172.30.2.3/24']);
  assert.match(await defaultRoute(socket, 'c1'), /^default via 172\.30\.1\.1 dev eth0/);
  await eventually('c1 to ping c2 on n2', () => pings(socket, 'c1', '172.30.2.2'));
  const both = await networksOf(socket, 'c1');
  assert.deepEqual(Object.keys(both), ['n1', 'n2']);
  assert.equal(both.n1!.IPAddress, '172.30.1.2');
  assert.equal(both.n2!.IPAddress, '172.30.2.3');
  assert.equal(both.n2!.Gateway, '172.30.2.1');
  const n2 = JSON.parse(await ok(socket, ['network', 'inspect', 'n2'])) as {
    Containers: Record<string, { Name: string; IPv4Address: string }>;
  }[];
  assert.deepEqual(
    Object.values(n2[0]!.Containers)
      .map((c) => `${c.Name} ${c.IPv4Address}`)
      .sort(),
    ['c1 172.30.2.3/24', 'c2 172.30.2.2/24'],
  );

  // A created container, and one on none, for the refusals and the connect before a start.
  await ok(socket, ['container', 'create', '--name', 'c3', '--network', 'n1', IMAGE, 'sleep', '3600']);
  await ok(socket, ['run', '-d', '--name', 'lone', '--network', 'none', IMAGE, 'sleep', '3600']);

  // Refusals, each one line, nothing changed.
  const snapshot = async () => [
    await ok(socket, ['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'c1', 'c2', 'c3', 'lone']),
    (await addresses(socket, 'c1')).join(','),
    await ok(socket, ['network', 'inspect', 'n1', 'n2']),
  ];
  const before = await snapshot();
  await refused(
    socket,
    ['network', 'connect', 'n2', 'c1'],
    /container c1 is already connected to network n2$/,
  );
  await refused(socket, ['network', 'connect', 'nosuch', 'c1'], /network nosuch not found/);
  await refused(socket, ['network', 'connect', 'n2', 'nosuch'], /No such container: nosuch/);
  await refused(
    socket,
    ['network', 'connect', '--ip', '172.30.9.9', 'n2', 'c3'],
    /address 172\.30\.9\.9 is not in subnet 172\.30\.2\.0\/24/,
  );
  await refused(
    socket,
    ['network', 'connect', '--ip', '172.30.2.2', 'n2', 'c3'],
    /address 172\.30\.2\.2 is already in use on subnet 172\.30\.2\.0\/24/,
  );
  await refused(socket, ['network', 'connect', 'host', 'c1'], /cannot be connected to the host network/);
  await refused(socket, ['network', 'connect', 'none', 'c1'], /cannot be connected to the none network/);
  await refused(socket, ['network', 'connect', 'n2', 'lone'], /lone is on the none network/);
  await refused(socket, ['network', 'disconnect', 'n1', 'c2'], /container c2 is not connected to network n1/);
  await refused(socket, ['network', 'disconnect', 'nosuch', 'c2'], /network nosuch not found/);
  await refused(
    socket,
    ['network', 'rm', 'n1'],
    /error while removing network: network n1 id [0-9a-f]{64} has active endpoints \((c1, c3|c3, c1)\)/,
  );
  assert.deepEqual(await snapshot(), before);

  // Connected before its first start, with a chosen address and an alias: there when it starts.
  assert.equal(
    await ok(socket, ['network', 'connect', '--ip', '172.30.2.50', '--alias', 'db', 'n2', 'c3']),
    '',
  );
  await ok(socket, ['start', 'c3']);
  assert.deepEqual(await addresses(socket, 'c3'), ['eth0 172.30.1.3/24', 'eth1 172.30.2.50/24']);
  assert.deepEqual((await networksOf(socket, 'c3')).n2!.Aliases, ['db']);
  await eventually('c2 to ping c3 on n2', () => pings(socket, 'c2', '172.30.2.50'));

  // A record written before `network connect` (its one network as `networkSettings`) still reads.
  const oldId = (
    await ok(socket, ['run', '-d', '--name', 'old', '--network', 'n1', IMAGE, 'sleep', '3600'])
  ).trim();

  // A restarted daemon keeps every leg (the containers run on; the replay is idempotent).
  await node.restartDaemon(() => {
    const oldFile = join(dir, 'data', 'containers', 'records', `${oldId}.json`);
    const { networks: oldLegs, ...oldRecord } = JSON.parse(readFileSync(oldFile, 'utf8')) as {
      networks: unknown[];
    };
    assert.equal(oldLegs.length, 1);
    writeFileSync(oldFile, JSON.stringify({ ...oldRecord, networkSettings: oldLegs[0] }));
  });
  assert.deepEqual(await addresses(socket, 'c1'), ['eth0 172.30.1.2/24', 'eth1 172.30.2.3/24']);
  assert.deepEqual(Object.keys(await networksOf(socket, 'c1')), ['n1', 'n2']);
  assert.equal(await pings(socket, 'c1', '172.30.2.2'), true);
  assert.deepEqual(await addresses(socket, 'old'), ['eth0 172.30.1.4/24']);
  await ok(socket, ['network', 'connect', 'n2', 'old']);
  assert.deepEqual(await addresses(socket, 'old'), ['eth0 172.30.1.4/24', 'eth1 172.30.2.4/24']);
  await ok(socket, ['rm', '-f', 'old']);
  // The addresses held are not handed out again.
  await ok(socket, ['run', '-d', '--name', 'c4', '--network', 'n2', IMAGE, 'sleep', '3600']);
  assert.equal((await networksOf(socket, 'c4')).n2!.IPAddress, '172.30.2.4');

  // Disconnected: eth1 goes, n2 is out of reach, inspect shows n1 alone.
  assert.equal(await ok(socket, ['network', 'disconnect', 'n2', 'c1']), '');
  assert.deepEqual(await addresses(socket, 'c1'), ['eth0 172.30.1.2/24']);
  assert.equal(await pings(socket, 'c1', '172.30.2.2'), false, 'c1 still reaches n2');
  assert.deepEqual(Object.keys(await networksOf(socket, 'c1')), ['n1']);
  await refused(socket, ['network', 'disconnect', 'n2', 'c1'], /container c1 is not connected to network n2/);
  // Leaving the network of the default route hands it to the next one with a gateway.
  assert.match(await defaultRoute(socket, 'c3'), /^default via 172\.30\.1\.1 dev eth0/);
  await ok(socket, ['network', 'disconnect', 'n1', 'c3']);
  assert.deepEqual(await addresses(socket, 'c3'), ['eth1 172.30.2.50/24']);
  assert.match(await defaultRoute(socket, 'c3'), /^default via 172\.30\.2\.1 dev eth1/);
  // ... and the next connect takes the free eth0.
  await ok(socket, ['network', 'connect', 'n1', 'c3']);
  assert.deepEqual(await addresses(socket, 'c3'), ['eth0 172.30.1.3/24', 'eth1 172.30.2.50/24']);
  assert.match(await defaultRoute(socket, 'c3'), /^default via 172\.30\.2\.1 dev eth1/);

  // Removed containers free both networks; then they go.
  await ok(socket, ['rm', '-f', 'c1', 'c2', 'c3', 'c4', 'lone']);
  assert.equal(await ok(socket, ['network', 'rm', 'n1', 'n2']), 'n1\nn2\n');
  assert.deepEqual(leftovers(`${PREFIX}c`, join(dir, 'data', 'containers', 'run')), []);
});
