// Name resolution of standalone containers end to end: the CLI binary against a real daemon in a
// network namespace of its own (the node), busybox containers on the real runtime asking real DNS
// packets. On a user bridge: resolv.conf says 127.0.0.11, a container's name, `--network-alias` and
// short id resolve (nslookup) and are pinged by name; another network's name does not; names
// outside go to the upstream of the daemon's --resolv-conf, or to the container's `--dns`; a
// stopped or removed container stops resolving; a restarted daemon serves them again; `network
// connect --alias` names a container on a second network, `disconnect` takes the names back. On the default bridge: no embedded DNS (the node's
// resolv.conf), as in Docker, until `network connect` to a user network turns it to 127.0.0.11. The upstreams are a tiny DNS server on the node's loopback (no
// internet in tests). Needs root. Everything made is removed also when the test fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../test/support.js';
import { leftovers } from '../worker/exec/test-fixtures.js';
import { busyboxTestImage, cli, ok, TestNode } from './test-cli.js';

const PREFIX = 'swltcd';
const IMAGE = 'busybox:dns';
const APPLETS = ['sh', 'sleep', 'ping', 'nslookup', 'cat'];

/**
 * Upstream DNS servers on the node's loopback, where the daemon forwards from: 127.0.0.1 answers
 * `outside.example` with 192.0.2.1, 127.0.0.2 with 192.0.2.2 (so an answer says which was asked);
 * every other name NXDOMAIN. A few lines of raw DNS, run in the node's namespace.
 */
const UPSTREAMS = `
const dgram = require('node:dgram');
for (const [addr, ip] of [['127.0.0.1', '192.0.2.1'], ['127.0.0.2', '192.0.2.2']]) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => {
    let o = 12;
    const labels = [];
    while (m[o]) { labels.push(m.subarray(o + 1, o + 1 + m[o]).toString()); o += m[o] + 1; }
    const qtype = m.readUInt16BE(o + 1);
    o += 5;
    const hit = labels.join('.').toLowerCase() === 'outside.example';
    const h = Buffer.alloc(12);
    m.copy(h, 0, 0, 2);
    h.writeUInt16BE(hit ? 0x8180 : 0x8183, 2);
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(hit && qtype === 1 ? 1 : 0, 6);
    const answer = hit && qtype === 1
      ? Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]), Buffer.from(ip.split('.').map(Number))])
      : Buffer.alloc(0);
    s.send(Buffer.concat([h, m.subarray(12, o), answer]), r.port, r.address);
  });
  s.bind(53, addr);
}
`;

/**
 * The A addresses busybox nslookup printed after the server's own lines, or its failure. The name is
 * asked fully qualified: busybox's nslookup (unlike the C library, which honours ndots:0) tries a dotless
 * name only with the search domains appended.
 */
async function lookup(socket: string, from: string, name: string, server?: string): Promise<string> {
  const r = await cli(socket, ['exec', from, 'nslookup', '-type=a', `${name}.`, ...(server ? [server] : [])]);
  if (r.code !== 0) return `failed: ${(r.stdout + r.stderr).trim().split('\n').pop()}`;
  const answers = r.stdout
    .split(/\n\s*\n/)
    .slice(1)
    .join('\n');
  return [...answers.matchAll(/^Address:\s*(\S+)$/gm)].map((m) => m[1]).join(',');
}

test('container names on a user bridge through 127.0.0.11: name, alias, short id, same network only, gone with the container; none on the default bridge', async (t) => {
  const flags = (dir: string) => ['--resolv-conf', join(dir, 'resolv.conf')];
  const node = await TestNode.start(t, PREFIX, 'ctrdns', flags, (n) => {
    writeFileSync(join(n.dir, 'resolv.conf'), 'nameserver 127.0.0.1\nsearch lab.example\n');
    n.inNs([process.execPath, '-e', UPSTREAMS]);
  });
  const { dir, socket } = node;
  await node.loadImage(await busyboxTestImage(APPLETS), IMAGE);

  const ipOn = async (name: string, net: string) =>
    (await ok(socket, ['inspect', '-f', `{{.NetworkSettings.Networks.${net}.IPAddress}}`, name])).trim();
  await ok(socket, ['network', 'create', 'appnet']);
  await ok(socket, ['network', 'create', 'othernet']);
  const run = (name: string, ...flags: string[]) =>
    ok(socket, ['run', '-d', '--name', name, ...flags, IMAGE, 'sleep', '3600']);
  const c1 = (await run('c1', '--network', 'appnet', '--network-alias', 'db')).trim();
  await run('c2', '--network', 'appnet');
  await run('c3', '--network', 'appnet', '--dns', '127.0.0.2');
  await run('o1', '--network', 'othernet');
  await run('d1');
  await run('d2');

  // A user bridge: the embedded resolver, with the node's search list.
  const resolv = await ok(socket, ['exec', 'c2', 'cat', '/etc/resolv.conf']);
  assert.match(resolv, /^nameserver 127\.0\.0\.11$/m);
  assert.match(resolv, /^search lab\.example$/m);
  assert.equal(resolv.match(/^nameserver/gm)?.length, 1, resolv);

  // By name, by alias, by short id; the names of its own network only.
  assert.equal(await lookup(socket, 'c2', 'c1'), '172.19.0.2');
  assert.equal(await lookup(socket, 'c2', 'db'), '172.19.0.2');
  assert.equal(await lookup(socket, 'c2', c1.slice(0, 12)), '172.19.0.2');
  assert.equal(await lookup(socket, 'c1', 'c2'), '172.19.0.3');
  assert.match(await lookup(socket, 'c2', 'o1'), /^failed: .*NXDOMAIN/);
  assert.match(await lookup(socket, 'o1', 'c1'), /^failed: .*NXDOMAIN/);
  assert.match(await lookup(socket, 'o1', 'db'), /^failed: .*NXDOMAIN/);
  // And what the C library makes of it: ping by name and by alias.
  await eventually(
    'c2 to ping c1 by name',
    async () => (await cli(socket, ['exec', 'c2', 'ping', '-c', '1', '-W', '2', 'c1'])).code === 0,
  );
  const byAlias = await cli(socket, ['exec', 'c2', 'ping', '-c', '1', '-W', '2', 'db']);
  assert.equal(byAlias.code, 0, byAlias.stdout + byAlias.stderr);
  assert.match(byAlias.stdout, /PING db \(172\.19\.0\.2\)/);

  // Names outside: the --resolv-conf upstream, or the container's --dns.
  assert.equal(await lookup(socket, 'c2', 'outside.example'), '192.0.2.1');
  assert.equal(await lookup(socket, 'c3', 'outside.example'), '192.0.2.2');
  assert.equal(await lookup(socket, 'c3', 'c1'), '172.19.0.2');

  // The default bridge: no embedded DNS, the node's resolv.conf (its loopback resolvers dropped, so
  // Docker's fallback here); a container name resolves nowhere.
  const plain = await ok(socket, ['exec', 'd2', 'cat', '/etc/resolv.conf']);
  assert.doesNotMatch(plain, /127\.0\.0\.11/);
  assert.match(plain, /^search lab\.example$/m);
  assert.match(await lookup(socket, 'd2', 'd1', '127.0.0.11'), /^failed: /);

  // A restarted daemon serves the running containers again (their sockets are opened anew).
  await node.restartDaemon();
  assert.equal(await lookup(socket, 'c2', 'db'), '172.19.0.2');
  assert.equal(await lookup(socket, 'c3', 'outside.example'), '192.0.2.2');

  // network connect: c2 answers on othernet too, with its address and alias there, and asks from both
  // of its networks (its first, appnet, first); disconnect: gone from othernet again.
  await ok(socket, ['network', 'connect', '--alias', 'cache', 'othernet', 'c2']);
  const c2Other = (
    await ok(socket, ['inspect', '-f', '{{.NetworkSettings.Networks.othernet.IPAddress}}', 'c2'])
  ).trim();
  assert.match(c2Other, /^172\.20\.0\.\d+$/);
  assert.equal(await lookup(socket, 'o1', 'c2'), c2Other);
  assert.equal(await lookup(socket, 'o1', 'cache'), c2Other);
  assert.equal(await lookup(socket, 'c2', 'o1'), '172.20.0.2');
  assert.equal(await lookup(socket, 'c2', 'c1'), '172.19.0.2');
  assert.match(await lookup(socket, 'c1', 'cache'), /^failed: .*NXDOMAIN/);
  await ok(socket, ['network', 'disconnect', 'othernet', 'c2']);
  assert.match(await lookup(socket, 'o1', 'c2'), /^failed: .*NXDOMAIN/);
  assert.match(await lookup(socket, 'o1', 'cache'), /^failed: .*NXDOMAIN/);
  assert.match(await lookup(socket, 'c2', 'o1'), /^failed: .*NXDOMAIN/);
  assert.equal(await lookup(socket, 'c2', 'c1'), '172.19.0.2');

  // resolv.conf follows the networks, as Docker's sandbox does: d2, made on the default bridge (the
  // node's nameservers), connected to appnet gets 127.0.0.11 at once (the same file, rewritten in
  // place) and its sockets: names of appnet and the upstream through them. A container made and not
  // yet started gets it too. Disconnected from its last user network, as Docker's, it keeps
  // 127.0.0.11 (the resolver stays and forwards); appnet's names are gone.
  await ok(socket, ['network', 'connect', 'appnet', 'd2']);
  const joined = await ok(socket, ['exec', 'd2', 'cat', '/etc/resolv.conf']);
  assert.match(joined, /^nameserver 127\.0\.0\.11$/m);
  assert.equal(joined.match(/^nameserver/gm)?.length, 1, joined);
  assert.match(joined, /^search lab\.example$/m);
  assert.equal(await lookup(socket, 'd2', 'c2'), '172.19.0.3');
  assert.equal(await lookup(socket, 'd2', 'outside.example'), '192.0.2.1');
  const d2Ping = await cli(socket, ['exec', 'd2', 'ping', '-c', '1', '-W', '2', 'db']);
  assert.equal(d2Ping.code, 0, d2Ping.stdout + d2Ping.stderr);
  await ok(socket, ['container', 'create', '--name', 'd3', IMAGE, 'sleep', '3600']);
  await ok(socket, ['network', 'connect', 'appnet', 'd3']);
  await ok(socket, ['start', 'd3']);
  assert.match(await ok(socket, ['exec', 'd3', 'cat', '/etc/resolv.conf']), /^nameserver 127\.0\.0\.11$/m);
  assert.equal(await lookup(socket, 'd3', 'd2'), await ipOn('d2', 'appnet'));
  await ok(socket, ['network', 'disconnect', 'appnet', 'd2']);
  assert.equal(await ok(socket, ['exec', 'd2', 'cat', '/etc/resolv.conf']), joined);
  assert.match(await lookup(socket, 'd2', 'c2'), /^failed: .*NXDOMAIN/);
  assert.equal(await lookup(socket, 'd2', 'outside.example'), '192.0.2.1');
  await ok(socket, ['rm', '-f', 'd3']);

  // Stopped: gone; started again: back; removed: gone for good.
  await ok(socket, ['stop', '-t', '0', 'c1']);
  assert.match(await lookup(socket, 'c2', 'c1'), /^failed: .*NXDOMAIN/); // forwarded: the upstream's no
  assert.match(await lookup(socket, 'c2', 'db'), /^failed: .*NXDOMAIN/);
  await ok(socket, ['start', 'c1']);
  assert.equal(await lookup(socket, 'c2', 'c1'), '172.19.0.2');
  await ok(socket, ['rm', '-f', 'c1']);
  assert.match(await lookup(socket, 'c2', 'c1'), /^failed: .*NXDOMAIN/);
  const gone = await cli(socket, ['exec', 'c2', 'ping', '-c', '1', '-W', '1', 'c1']);
  assert.notEqual(gone.code, 0, gone.stdout);
  assert.equal(await lookup(socket, 'c2', 'c3'), '172.19.0.4');

  // Refusals: aliases are for user networks; --dns takes addresses. One line, nothing made.
  const before = await ok(socket, ['ps', '-a', '-q']);
  const alias = await cli(socket, ['run', '-d', '--network-alias', 'x', IMAGE, 'sleep', '60']);
  assert.equal(alias.code, 1, alias.stderr);
  assert.match(
    alias.stderr.trim(),
    /^[^\n]*network-scoped alias is supported only for containers in user defined networks$/,
  );
  const dns = await cli(socket, ['run', '-d', '--dns', 'resolver.example', IMAGE, 'sleep', '60']);
  assert.equal(dns.code, 2, dns.stderr);
  assert.match(dns.stderr, /resolver\.example is not an ip address/);
  assert.equal(await ok(socket, ['ps', '-a', '-q']), before);

  await ok(socket, ['rm', '-f', 'c2', 'c3', 'o1', 'd1', 'd2']);
  await ok(socket, ['network', 'rm', 'appnet', 'othernet']);
  assert.deepEqual(leftovers(`${PREFIX}c`, join(dir, 'data', 'containers', 'run')), []);
});
