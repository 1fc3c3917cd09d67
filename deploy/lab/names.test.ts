import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labNames, parseHostName, subnetBase, validateLabName, validateNodeCount } from './names.js';
import { NETNS_PREFIX_PATTERN } from '../../lib/netns-prefix.js';

test('subnets walk the /24s of 198.18.0.0/15 and stop at its end', () => {
  assert.equal(subnetBase(0), '198.18.0');
  assert.equal(subnetBase(255), '198.18.255');
  assert.equal(subnetBase(256), '198.19.0');
  assert.equal(subnetBase(511), '198.19.255');
  assert.throws(() => subnetBase(512), RangeError);
  assert.throws(() => subnetBase(-1), RangeError);
});

test('lab names are short enough for every derived interface and namespace name', () => {
  for (const bad of ['', 'Lab', '1lab', 'lab-x', 'abcdefghi', 'la b']) {
    assert.throws(() => validateLabName(bad), /invalid lab name/, bad);
  }
  const longest = validateLabName('abcdefgh');
  const names = labNames(longest, 7);
  assert.ok(Buffer.byteLength(names.hostVeth) <= 15, names.hostVeth);
  const host = names.host(200);
  assert.match(host.prefix, NETNS_PREFIX_PATTERN, 'the daemon must accept the lab host prefix');
  assert.ok(Buffer.byteLength(host.switchPort) <= 15);
  assert.ok(Buffer.byteLength(names.registry.switchPort) <= 15);
  assert.ok(names.registry.netns.startsWith(names.netnsPrefix), 'lab down removes it with the rest');
});

test('hosts get .11, .12, ... and the machine .254', () => {
  const names = labNames('lab', 3);
  assert.equal(names.host(1).address, '198.18.3.11');
  assert.equal(names.host(3).address, '198.18.3.13');
  assert.equal(names.host(2).netns, 'lab-node2');
  assert.equal(names.machineAddress, '198.18.3.254');
  assert.equal(names.registry.address, '198.18.3.250');
  assert.notEqual(names.host(200).address, names.registry.address);
  assert.equal(names.subnet, '198.18.3.0/24');
});

test('host names parse only within the lab', () => {
  assert.equal(parseHostName('node2', 3), 2);
  for (const bad of ['node0', 'node4', 'node', 'node02', 'x1'])
    assert.throws(() => parseHostName(bad, 3), /no host/);
});

test('node counts are bounded', () => {
  assert.equal(validateNodeCount(3), 3);
  for (const bad of [0, -1, 1.5, 201, NaN]) assert.throws(() => validateNodeCount(bad), /--nodes/);
});
