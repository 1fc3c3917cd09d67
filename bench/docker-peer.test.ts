import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerdArgs, peerAddresses, peerPaths } from './docker-peer.js';

const paths = peerPaths('/tmp/swlbd-abc123-x');
const args = dockerdArgs(paths, { cgroupParent: '/swlbd-abc123', dns: '198.19.252.2' });

test('dockerd stays off the shared machine: no iptables, no default bridge, its own cgroup parent', () => {
  for (const flag of ['--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none'])
    assert.ok(args.includes(flag), flag);
  assert.ok(args.includes('--cgroup-parent=/swlbd-abc123'));
  assert.ok(args.includes('--dns=198.19.252.2'), 'unknown names are forwarded inside the namespace only');
});

test("dockerd's state, sockets and config are all under the peer's temp dir", () => {
  for (const flag of ['--data-root', '--exec-root', '--pidfile', '--config-file']) {
    const value = args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
    assert.ok(value?.startsWith(`${paths.dir}/`), `${flag}: ${value}`);
  }
  const hosts = args.filter((a) => a.startsWith('--host='));
  assert.deepEqual(hosts, [`--host=unix://${paths.dir}/docker.sock`], 'one unix socket, no TCP');
});

test('peer addresses are a /30 inside the benchmark underlay 198.18.0.0/15', () => {
  const seen = new Set<string>();
  for (const seed of [0, 1, 63, 64, 255, 256, 0xffffff, 0x123456]) {
    const { address, peer } = peerAddresses(seed);
    for (const a of [address, peer]) {
      const [o1, o2, o3, o4] = a.split('.').map(Number);
      assert.equal(o1, 198);
      assert.ok(o2 === 18 || o2 === 19, a);
      assert.ok(o3! >= 0 && o3! <= 255 && o4! >= 0 && o4! <= 255, a);
    }
    const last = (ip: string) => Number(ip.split('.')[3]);
    assert.equal(last(address) % 4, 1, 'the first host of its /30');
    assert.equal(last(peer), last(address) + 1, 'the second host of the same /30');
    seen.add(address);
  }
  assert.equal(peerAddresses(7).address, peerAddresses(7 + 256).address, '256 blocks, then again');
  assert.ok(seen.size >= 6, 'different seeds use different blocks');
});
