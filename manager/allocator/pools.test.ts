// The building blocks: address text, CIDR parsing, the bitmap and one subnet's address pool.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IPv4, IPv4CidrRange } from 'ip-num';
import { AddressPool } from './address-pool.js';
import { Bitmap } from './bitmap.js';
import {
  containsCidr,
  formatAddress,
  overlaps,
  parseAddress,
  parseAddressWithPrefix,
  parseCidr,
  type Cidr,
} from '../../lib/ipv4.js';

const cidr = (text: string) => parseCidr(text) as Cidr;
const addr = (text: string) => parseAddress(text) as number;

describe('ipv4', () => {
  it('formats addresses exactly as ip-num does', () => {
    for (const n of [0, 1, 255, 256, 167772161, 2 ** 31, 2 ** 31 + 12345, 2 ** 32 - 1]) {
      assert.equal(formatAddress(n), IPv4.fromNumber(BigInt(n)).toString());
    }
  });

  it('parses recorded addresses exactly as ip-num does, and nothing it rejects', () => {
    const texts = ['10.0.1.5/24', '0.0.0.0/0', '255.255.255.255/32', '10.255.0.3/16', '192.168.9.1/24'];
    for (const text of texts) {
      const [ip, prefix] = text.split('/');
      assert.deepEqual(parseAddressWithPrefix(text), {
        addr: Number(new IPv4(ip).value),
        prefix: Number(prefix),
      });
    }
    for (const bad of [
      '10.0.1.5',
      '10.0.1.256/24',
      '10.0.1.05/24',
      '10.0.1.5/33',
      '10.0.1.5/024',
      '10.0.1/24',
      'x/24',
      ' 10.0.1.5/24',
    ]) {
      assert.equal(typeof parseAddressWithPrefix(bad), 'string', bad);
    }
  });

  it('relates ranges exactly as ip-num does', () => {
    const texts = [
      '10.0.0.0/8',
      '10.0.0.0/24',
      '10.0.0.128/25',
      '10.0.1.0/24',
      '10.255.0.0/16',
      '11.0.0.0/8',
      '0.0.0.0/0',
    ];
    for (const a of texts) {
      for (const b of texts) {
        const [ra, rb] = [IPv4CidrRange.fromCidr(a), IPv4CidrRange.fromCidr(b)];
        assert.equal(overlaps(cidr(a), cidr(b)), ra.isOverlapping(rb), `${a} overlaps ${b}`);
        assert.equal(containsCidr(cidr(a), cidr(b)), ra.contains(rb), `${a} contains ${b}`);
      }
    }
  });

  const cases: [string, string | RegExp][] = [
    ['10.0.1.0/24', '10.0.1.0/24'],
    ['192.168.0.0/16', '192.168.0.0/16'],
    ['10.0.1.5/24', /host bits set: did you mean 10\.0\.1\.0\/24\?/],
    ['10.0.1.0', /not an IPv4 CIDR/],
    ['10.0.1.0/33', /not an IPv4 CIDR/],
    ['300.0.0.0/8', /not an IPv4 CIDR/],
    ['fd00::/64', /not an IPv4 CIDR/],
    ['', /not an IPv4 CIDR/],
  ];
  for (const [input, expected] of cases) {
    it(`parseCidr(${JSON.stringify(input)})`, () => {
      const parsed = parseCidr(input);
      if (typeof expected === 'string')
        assert.equal(typeof parsed === 'string' ? parsed : parsed.text, expected);
      else assert.match(parsed as string, expected);
    });
  }
});

describe('Bitmap', () => {
  it('hands out the lowest free bit, reuses released ones, and reports full', () => {
    const b = new Bitmap(70);
    for (let i = 0; i < 70; i++) {
      assert.equal(b.lowestFree(), i);
      assert.ok(b.set(i));
    }
    assert.equal(b.lowestFree(), -1, 'never a bit past the size');
    assert.ok(b.clear(33));
    assert.ok(b.clear(3));
    assert.equal(b.lowestFree(), 3);
    assert.ok(b.set(3));
    assert.equal(b.lowestFree(), 33);
    assert.equal(b.set(5), false, 'already set');
    assert.equal(b.clear(200), false, 'out of range');
    assert.equal(b.free, 1);
  });

  it('handles bit 31 of a word (the sign bit of a 32-bit int)', () => {
    const b = new Bitmap(64);
    for (let i = 0; i < 31; i++) b.set(i);
    assert.equal(b.lowestFree(), 31);
    b.set(31);
    assert.equal(b.lowestFree(), 32);
  });
});

describe('AddressPool', () => {
  it('never hands out the network, gateway or broadcast address, then reports exhaustion', () => {
    const pool = new AddressPool(cidr('10.0.1.0/29'), addr('10.0.1.1'), cidr('10.0.1.0/29'));
    const got: string[] = [];
    for (let a = pool.allocate(); a !== undefined; a = pool.allocate()) got.push(formatAddress(a));
    assert.deepEqual(got, ['10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5', '10.0.1.6']);
    assert.equal(pool.free, 0);
  });

  it('skips a gateway in the middle of the range and reuses released addresses lowest first', () => {
    const pool = new AddressPool(cidr('10.0.1.0/29'), addr('10.0.1.3'), cidr('10.0.1.0/29'));
    const got = [pool.allocate(), pool.allocate(), pool.allocate()].map((a) => formatAddress(a!));
    assert.deepEqual(got, ['10.0.1.1', '10.0.1.2', '10.0.1.4']);
    pool.release(addr('10.0.1.2'));
    pool.release(addr('10.0.1.3')); // the gateway: releasing it must not make it allocatable
    assert.equal(formatAddress(pool.allocate()!), '10.0.1.2');
    assert.equal(formatAddress(pool.allocate()!), '10.0.1.5');
  });

  it('allocates only inside the ip-range', () => {
    const pool = new AddressPool(cidr('10.0.0.0/24'), addr('10.0.0.1'), cidr('10.0.0.128/30'));
    const got = [pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()];
    assert.deepEqual(
      got.map((a) => (a === undefined ? undefined : formatAddress(a))),
      ['10.0.0.128', '10.0.0.129', '10.0.0.130', '10.0.0.131', undefined],
    );
  });

  it('claims recorded addresses and refuses reserved, taken and foreign ones', () => {
    const pool = new AddressPool(cidr('10.0.1.0/24'), addr('10.0.1.1'), cidr('10.0.1.0/24'));
    assert.equal(pool.claim(addr('10.0.1.7')), 'claimed');
    assert.equal(pool.claim(addr('10.0.1.7')), 'taken');
    assert.equal(pool.claim(addr('10.0.1.1')), 'reserved');
    assert.equal(pool.claim(addr('10.0.1.255')), 'reserved');
    assert.equal(pool.claim(addr('10.0.2.7')), 'outside');
    assert.equal(formatAddress(pool.allocate()!), '10.0.1.2');
  });
});
