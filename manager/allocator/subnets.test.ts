// Subnet carving and user subnet validation, as tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IpamConfig } from '../../api/objects/index.js';
import { parseCidr, type Cidr } from '../../lib/ipv4.js';
import {
  carveSubnet,
  checkIpamConfig,
  parseAddressPools,
  validateNetworkSpec,
  type AddressPools,
} from './subnets.js';
import { network } from './test-fixtures.js';

const cidr = (text: string) => parseCidr(text) as Cidr;

describe('carveSubnet', () => {
  const cases: { name: string; pools: string[]; size: number; used: string[]; want: string | undefined }[] = [
    { name: 'default pool, nothing used', pools: ['10.0.0.0/8'], size: 24, used: [], want: '10.0.0.0/24' },
    {
      name: 'skips used /24s',
      pools: ['10.0.0.0/8'],
      size: 24,
      used: ['10.0.0.0/24', '10.0.1.0/24'],
      want: '10.0.2.0/24',
    },
    {
      name: 'fills a hole first',
      pools: ['10.0.0.0/8'],
      size: 24,
      used: ['10.0.0.0/24', '10.0.2.0/24'],
      want: '10.0.1.0/24',
    },
    {
      name: 'skips a larger user subnet',
      pools: ['10.0.0.0/8'],
      size: 24,
      used: ['10.0.0.0/16'],
      want: '10.1.0.0/24',
    },
    {
      name: 'skips a smaller subnet inside a candidate',
      pools: ['10.0.0.0/8'],
      size: 24,
      used: ['10.0.0.128/25'],
      want: '10.0.1.0/24',
    },
    {
      name: 'skips the ingress range',
      pools: ['10.255.0.0/16', '10.254.0.0/16'],
      size: 24,
      used: ['10.255.0.0/16'],
      want: '10.254.0.0/24',
    },
    {
      name: 'custom pool and mask length',
      pools: ['192.168.0.0/16'],
      size: 26,
      used: [],
      want: '192.168.0.0/26',
    },
    {
      name: 'custom mask skips used',
      pools: ['192.168.0.0/16'],
      size: 26,
      used: ['192.168.0.0/26', '192.168.0.64/27'],
      want: '192.168.0.128/26',
    },
    {
      name: 'second pool when the first is full',
      pools: ['172.20.0.0/23', '172.30.0.0/16'],
      size: 24,
      used: ['172.20.0.0/24', '172.20.1.0/24'],
      want: '172.30.0.0/24',
    },
    { name: 'exhausted', pools: ['172.20.0.0/23'], size: 24, used: ['172.20.0.0/23'], want: undefined },
    {
      name: 'pool equal to the subnet size',
      pools: ['172.20.0.0/24'],
      size: 24,
      used: [],
      want: '172.20.0.0/24',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const pools = parseAddressPools(c.pools, c.size) as AddressPools;
      assert.equal(carveSubnet(pools, c.used.map(cidr))?.text, c.want);
    });
  }

  it('rejects unusable pool configurations', () => {
    assert.match(parseAddressPools(['10.0.0.0/8'], 31) as string, /subnet size \/31/);
    assert.match(parseAddressPools(['10.0.0.0/25'], 24) as string, /smaller than the subnet size/);
    assert.match(parseAddressPools(['10.0.0.1/8'], 24) as string, /host bits set/);
    assert.match(parseAddressPools([], 24) as string, /empty/);
  });

  it('carves a whole /16 into /24s, then reports it exhausted', () => {
    const pools = parseAddressPools(['10.0.0.0/16'], 24) as AddressPools;
    const used: Cidr[] = [];
    for (let i = 0; i < 256; i++) used.push(carveSubnet(pools, used)!);
    assert.equal(used[255].text, '10.0.255.0/24');
    assert.equal(carveSubnet(pools, used), undefined);
  });
});

describe('checkIpamConfig / validateNetworkSpec', () => {
  const cases: { name: string; ipam: Partial<IpamConfig>[]; want: RegExp | IpamConfig[] }[] = [
    {
      name: 'subnet only: gateway is the first usable address',
      ipam: [{ subnet: '10.10.0.0/24' }],
      want: [{ subnet: '10.10.0.0/24', gateway: '10.10.0.1', ipRange: '' }],
    },
    {
      name: 'explicit gateway and ip-range',
      ipam: [{ subnet: '10.10.0.0/16', gateway: '10.10.0.254', ipRange: '10.10.1.0/24' }],
      want: [{ subnet: '10.10.0.0/16', gateway: '10.10.0.254', ipRange: '10.10.1.0/24' }],
    },
    {
      name: 'several subnets',
      ipam: [{ subnet: '10.10.0.0/24' }, { subnet: '10.11.0.0/24' }],
      want: [
        { subnet: '10.10.0.0/24', gateway: '10.10.0.1', ipRange: '' },
        { subnet: '10.11.0.0/24', gateway: '10.11.0.1', ipRange: '' },
      ],
    },
    {
      name: 'bad CIDR',
      ipam: [{ subnet: '10.10.0.0/40' }],
      want: /invalid subnet: "10.10.0.0\/40" is not an IPv4 CIDR/,
    },
    { name: 'host bits set', ipam: [{ subnet: '10.10.0.7/24' }], want: /did you mean 10.10.0.0\/24/ },
    { name: 'too small', ipam: [{ subnet: '10.10.0.0/31' }], want: /too small/ },
    {
      name: 'gateway not an address',
      ipam: [{ subnet: '10.10.0.0/24', gateway: '10.10.0' }],
      want: /invalid gateway/,
    },
    {
      name: 'gateway outside',
      ipam: [{ subnet: '10.10.0.0/24', gateway: '10.10.1.1' }],
      want: /gateway 10.10.1.1 is not inside subnet 10.10.0.0\/24/,
    },
    {
      name: 'gateway is the network address',
      ipam: [{ subnet: '10.10.0.0/24', gateway: '10.10.0.0' }],
      want: /network or broadcast address/,
    },
    {
      name: 'gateway is the broadcast address',
      ipam: [{ subnet: '10.10.0.0/24', gateway: '10.10.0.255' }],
      want: /network or broadcast address/,
    },
    {
      name: 'ip-range outside',
      ipam: [{ subnet: '10.10.0.0/24', ipRange: '10.10.1.0/25' }],
      want: /ip-range 10.10.1.0\/25 is not inside subnet 10.10.0.0\/24/,
    },
    {
      name: 'ip-range larger than the subnet',
      ipam: [{ subnet: '10.10.0.0/24', ipRange: '10.10.0.0/23' }],
      want: /is not inside subnet/,
    },
    { name: 'ip-range bad CIDR', ipam: [{ subnet: '10.10.0.0/24', ipRange: 'x' }], want: /invalid ip-range/ },
    {
      name: 'own subnets overlap',
      ipam: [{ subnet: '10.10.0.0/16' }, { subnet: '10.10.5.0/24' }],
      want: /subnets 10.10.0.0\/16 and 10.10.5.0\/24 of network n overlap/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const spec = network('n', 'n', { ipam: c.ipam }).spec;
      const problem = validateNetworkSpec(spec);
      if (c.want instanceof RegExp) {
        assert.match(problem ?? '(accepted)', c.want);
      } else {
        assert.equal(problem, undefined);
        assert.deepEqual(
          spec.ipam.map((i) => (checkIpamConfig(i) as { config: IpamConfig }).config),
          c.want,
        );
      }
    });
  }

  it('rejects an empty name and other drivers', () => {
    assert.match(validateNetworkSpec(network('n', '').spec)!, /name/);
    assert.match(validateNetworkSpec({ ...network('n').spec, driver: 'ipvlan' as 'overlay' })!, /driver/);
  });
});
