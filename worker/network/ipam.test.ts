import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALWAYS_RESERVED, allocateAddress, allocateSubnet, checkSubnet } from './ipam.js';

test('new networks take the first free /16 of 172.17-31, then 192.168.0.0/20s, around what is taken', () => {
  assert.deepEqual(allocateSubnet([]), { subnet: '172.17.0.0/16', gateway: '172.17.0.1' });
  // The default bridge and the overlay's gateway bridge (172.18.0.0/16) taken: the first user bridge.
  assert.deepEqual(ALWAYS_RESERVED, ['172.18.0.0/16']);
  assert.deepEqual(allocateSubnet(['172.17.0.0/16', ...ALWAYS_RESERVED]), {
    subnet: '172.19.0.0/16',
    gateway: '172.19.0.1',
  });
  // A node address inside 172.19 (its route) pushes the next one on.
  assert.equal(allocateSubnet(['172.17.0.0/16', '172.18.0.0/16', '172.19.5.0/24']).subnet, '172.20.0.0/16');
  const all16 = Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`);
  assert.deepEqual(allocateSubnet(all16), { subnet: '192.168.0.0/20', gateway: '192.168.0.1' });
  assert.equal(allocateSubnet([...all16, '192.168.0.0/20', '192.168.17.0/24']).subnet, '192.168.32.0/20');
  const everything = [...all16, '192.168.0.0/16'];
  assert.throws(() => allocateSubnet(everything), /fully subnetted/);
});

test('a user subnet: overlaps, gateway and range are checked', () => {
  assert.deepEqual(checkSubnet({ subnet: '10.10.0.0/24' }, []), {
    subnet: '10.10.0.0/24',
    gateway: '10.10.0.1',
  });
  assert.deepEqual(
    checkSubnet({ subnet: '10.10.0.0/24', gateway: '10.10.0.254', ipRange: '10.10.0.128/25' }, []),
    {
      subnet: '10.10.0.0/24',
      gateway: '10.10.0.254',
      ipRange: '10.10.0.128/25',
    },
  );
  assert.throws(
    () => checkSubnet({ subnet: '172.17.5.0/24' }, ['172.17.0.0/16']),
    /overlaps with 172.17.0.0\/16/,
  );
  assert.throws(() => checkSubnet({ subnet: '10.10.0.5/24' }, []), /host bits set/);
  assert.throws(
    () => checkSubnet({ subnet: '10.10.0.0/24', gateway: '10.11.0.1' }, []),
    /not a host address/,
  );
  assert.throws(
    () => checkSubnet({ subnet: '10.10.0.0/24', gateway: '10.10.0.255' }, []),
    /not a host address/,
  );
  assert.throws(() => checkSubnet({ subnet: '10.10.0.0/24', ipRange: '10.10.1.0/25' }, []), /not inside/);
  assert.throws(() => checkSubnet({ subnet: '10.10.0.0/31' }, []), /too small/);
  assert.throws(() => checkSubnet({ subnet: 'fd00::/64' }, []), /not an IPv4 CIDR/);
});

test('endpoint addresses: lowest free, inside the range, --ip honoured or refused', () => {
  const sub = { subnet: '172.19.0.0/16', gateway: '172.19.0.1' };
  assert.equal(allocateAddress(sub, []), '172.19.0.2/16');
  assert.equal(allocateAddress(sub, ['172.19.0.2', '172.19.0.4']), '172.19.0.3/16');
  assert.equal(allocateAddress(sub, [], '172.19.9.9'), '172.19.9.9/16');
  assert.throws(() => allocateAddress(sub, ['172.19.9.9'], '172.19.9.9'), /already in use/);
  assert.throws(() => allocateAddress(sub, [], '172.19.0.1'), /already in use/);
  assert.throws(() => allocateAddress(sub, [], '172.20.0.9'), /not in subnet/);
  const ranged = { subnet: '10.1.0.0/24', gateway: '10.1.0.1', ipRange: '10.1.0.128/30' };
  assert.equal(allocateAddress(ranged, []), '10.1.0.128/24');
  assert.throws(
    () => allocateAddress(ranged, ['10.1.0.128', '10.1.0.129', '10.1.0.130', '10.1.0.131']),
    /no free address left in 10.1.0.128\/30/,
  );
  const tiny = { subnet: '10.2.0.0/30', gateway: '10.2.0.1' };
  assert.equal(allocateAddress(tiny, []), '10.2.0.2/30');
  assert.throws(() => allocateAddress(tiny, ['10.2.0.2']), /no free address/);
});
