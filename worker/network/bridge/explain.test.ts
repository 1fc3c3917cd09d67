// Golden tests of what `network inspect -v` shows of a bridge network: the bridge, its veths with their
// containers, and the rules of the driver's table that concern it, from captured kernel output (the
// ruleset is `nft list table` of nft.ts's rendering, as nft 1.x prints it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainBridge, parseNftRules } from './explain.js';
import { bridgeLabel, legLabel } from './names.js';
import type { ObservedLink } from './types.js';

const NET = '0123456789abcdef0123';
const OTHER = 'fedcba9876543210fedc';
const RULESET = `
  table inet swlbx_bridge {
  	set bridges {
  		type ifname
  		elements = { "swl0",
  			     "br-internal0000",
  			     "br-0123456789ab" }
  	}

  	chain forward {
  		type filter hook forward priority filter; policy accept;
  		iifname "br-internal0000" oifname != "br-internal0000" drop
  		oifname "br-internal0000" iifname != "br-internal0000" drop
  		iifname "br-0123456789ab" oifname @bridges oifname != "br-0123456789ab" drop
  		iifname "br-internal0000" oifname @bridges oifname != "br-internal0000" drop
  		iifname "swl0" oifname @bridges oifname != "swl0" drop
  		oifname @bridges ct state established,related accept
  		oifname @bridges ct status dnat accept
  		oifname "br-0123456789ab" iifname != "br-0123456789ab" drop
  		oifname "br-internal0000" iifname != "br-internal0000" drop
  		oifname "swl0" iifname != "swl0" drop
  	}

  	chain postrouting {
  		type nat hook postrouting priority srcnat; policy accept;
  		ip saddr 172.19.0.0/16 oifname != "br-0123456789ab" masquerade
  		ip saddr 172.17.0.0/16 oifname != "swl0" masquerade
  		ip saddr 172.19.0.0/16 oifname "br-0123456789ab" ct status dnat masquerade
  		ip saddr 127.0.0.0/8 oifname "br-0123456789ab" ct status dnat masquerade
  		ip saddr 172.17.0.0/16 oifname "swl0" ct status dnat masquerade
  		ip saddr 127.0.0.0/8 oifname "swl0" ct status dnat masquerade
  	}

  	chain prerouting {
  		type nat hook prerouting priority dstnat; policy accept;
  		fib daddr type local tcp dport 8080 dnat ip to 172.19.0.2:80
  		ip daddr 198.18.0.11 udp dport 5353 dnat ip to 172.17.0.3:53
  	}

  	chain output {
  		type nat hook output priority -100; policy accept;
  		fib daddr type local tcp dport 8080 dnat ip to 172.19.0.2:80
  		ip daddr 198.18.0.11 udp dport 5353 dnat ip to 172.17.0.3:53
  	}
  }
`;

const leg = (ifName: string, net: string, ep: string, address: string, master: string): ObservedLink => ({
  ifName,
  kind: 'veth',
  alias: legLabel('swlbx', { networkId: net, endpointId: ep, ifName: 'eth0', address, gateway: '-' }),
  master,
  mtu: 1500,
  up: true,
  addresses: [],
});
const LINKS: ObservedLink[] = [
  { ifName: 'lo', mtu: 65536, up: true, addresses: ['127.0.0.1/8'] },
  {
    ifName: 'br-0123456789ab',
    kind: 'bridge',
    alias: bridgeLabel('swlbx', NET),
    mtu: 1500,
    up: true,
    addresses: ['172.19.0.1/16'],
  },
  { ifName: 'swl0', kind: 'bridge', alias: bridgeLabel('swlbx', OTHER), mtu: 1500, up: true, addresses: [] },
  leg('vethbbbbbbb', NET, 'ep-web', '172.19.0.2/16', 'br-0123456789ab'),
  leg('vethaaaaaaa', NET, 'ep-gone', '172.19.0.3/16', 'br-0123456789ab'),
  leg('vethccccccc', OTHER, 'ep-other', '172.17.0.3/16', 'swl0'),
  // Another daemon's leg of a network with the same id is not this one's.
  {
    ...leg('vethddddddd', NET, 'ep-x', '172.19.0.9/16', 'br-0123456789ab'),
    alias: 'swarmlite-bridge owner=x',
  },
];

test('parseNftRules: the rules of each chain, not sets or hook lines', () => {
  const rules = parseNftRules(RULESET);
  assert.deepEqual(
    [...new Set(rules.map((r) => r.chain))],
    ['forward', 'postrouting', 'prerouting', 'output'],
  );
  assert.equal(rules.length, 10 + 6 + 2 + 2);
  assert.ok(!rules.some((r) => /^type |elements|^"/.test(r.rule)));
  assert.deepEqual(parseNftRules(''), []);
});

test('explainBridge: the bridge, its veths with their containers, the rules that concern it', () => {
  const got = explainBridge({
    owner: 'swlbx',
    networkId: NET,
    bridge: 'br-0123456789ab',
    subnets: ['172.19.0.0/16'],
    links: LINKS,
    table: 'swlbx_bridge',
    ruleset: RULESET,
    containers: new Map([['ep-web', { id: 'c0ffee', name: 'web' }]]),
  });
  assert.deepEqual(got, {
    Bridge: { Name: 'br-0123456789ab', Present: true, Up: true, Mtu: 1500, Addresses: ['172.19.0.1/16'] },
    Veths: [
      {
        HostInterface: 'vethaaaaaaa',
        Master: 'br-0123456789ab',
        Up: true,
        EndpointId: 'ep-gone',
        Container: null,
        ContainerInterface: 'eth0',
        ContainerAddress: '172.19.0.3/16',
      },
      {
        HostInterface: 'vethbbbbbbb',
        Master: 'br-0123456789ab',
        Up: true,
        EndpointId: 'ep-web',
        Container: { Id: 'c0ffee', Name: 'web' },
        ContainerInterface: 'eth0',
        ContainerAddress: '172.19.0.2/16',
      },
    ],
    Nftables: {
      Table: 'swlbx_bridge',
      Rules: [
        {
          Chain: 'forward',
          Rule: 'iifname "br-0123456789ab" oifname @bridges oifname != "br-0123456789ab" drop',
        },
        { Chain: 'forward', Rule: 'oifname "br-0123456789ab" iifname != "br-0123456789ab" drop' },
        { Chain: 'postrouting', Rule: 'ip saddr 172.19.0.0/16 oifname != "br-0123456789ab" masquerade' },
        {
          Chain: 'postrouting',
          Rule: 'ip saddr 172.19.0.0/16 oifname "br-0123456789ab" ct status dnat masquerade',
        },
        {
          Chain: 'postrouting',
          Rule: 'ip saddr 127.0.0.0/8 oifname "br-0123456789ab" ct status dnat masquerade',
        },
        { Chain: 'prerouting', Rule: 'fib daddr type local tcp dport 8080 dnat ip to 172.19.0.2:80' },
        { Chain: 'output', Rule: 'fib daddr type local tcp dport 8080 dnat ip to 172.19.0.2:80' },
      ],
    },
  });
});

test('explainBridge: the default bridge gets its own rules only (swl0 is not a prefix of another name)', () => {
  const got = explainBridge({
    owner: 'swlbx',
    networkId: OTHER,
    bridge: 'swl0',
    subnets: ['172.17.0.0/16'],
    links: LINKS,
    table: 'swlbx_bridge',
    ruleset: RULESET,
    containers: new Map(),
  });
  assert.deepEqual(got.Bridge, { Name: 'swl0', Present: true, Up: true, Mtu: 1500, Addresses: [] });
  assert.deepEqual(
    got.Veths.map((v) => [v.HostInterface, v.Container]),
    [['vethccccccc', null]],
  );
  assert.deepEqual(
    got.Nftables.Rules.map((r) => `${r.Chain}: ${r.Rule}`),
    [
      'forward: iifname "swl0" oifname @bridges oifname != "swl0" drop',
      'forward: oifname "swl0" iifname != "swl0" drop',
      'postrouting: ip saddr 172.17.0.0/16 oifname != "swl0" masquerade',
      'postrouting: ip saddr 172.17.0.0/16 oifname "swl0" ct status dnat masquerade',
      'postrouting: ip saddr 127.0.0.0/8 oifname "swl0" ct status dnat masquerade',
      'prerouting: ip daddr 198.18.0.11 udp dport 5353 dnat ip to 172.17.0.3:53',
      'output: ip daddr 198.18.0.11 udp dport 5353 dnat ip to 172.17.0.3:53',
    ],
  );
});

test('explainBridge: nothing in the kernel (no bridge, no table) shows as absent, not an error', () => {
  const got = explainBridge({
    owner: 'swlbx',
    networkId: NET,
    bridge: 'br-0123456789ab',
    subnets: ['172.19.0.0/16'],
    links: [],
    table: '',
    ruleset: '',
    containers: new Map(),
  });
  assert.deepEqual(got, {
    Bridge: { Name: 'br-0123456789ab', Present: false, Up: false, Mtu: 0, Addresses: [] },
    Veths: [],
    Nftables: { Table: '', Rules: [] },
  });
});
