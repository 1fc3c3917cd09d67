import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatLegLabel,
  gatewayBridgeName,
  gatewayLegName,
  hostIfName,
  isTempVxlanName,
  macFromIp,
  parseLegLabel,
  parseSandboxName,
  sandboxName,
  tempVxlanName,
} from './names.js';
import { parseFdb, parseLinks, parseNeighbors, parseNetnsList, parseGatewayTable } from './observe.js';

test('MAC from IP: 02:42 and the address bytes, as Docker does', () => {
  assert.equal(macFromIp('10.0.1.4'), '02:42:0a:00:01:04');
  assert.equal(macFromIp('10.255.255.254'), '02:42:0a:ff:ff:fe');
  assert.throws(() => macFromIp('10.0.1'), /not an IPv4 address/);
});

test('node-namespace names fit 15 bytes and keep the whole prefix', () => {
  assert.equal(gatewayBridgeName('swl'), 'swl_gwbridge');
  assert.equal(gatewayBridgeName('lab1-n2'), 'lab1-n2_gwbridg');
  assert.equal(tempVxlanName('swl', 4097), 'swl_vx4097');
  assert.equal(tempVxlanName('lababcde-n100', 4097), 'lababcde-n100_v');
  assert.throws(() => hostIfName('abcdefghijklmn', 'x'), /no room/);
  assert.ok(isTempVxlanName('swl', 'swl_vx4100'));
  assert.ok(!isTempVxlanName('swl', 'swl_gwbridge'));
  assert.ok(isTempVxlanName('lababcde-n100', 'lababcde-n100_v'));
});

test('sandbox names carry the VNI and only this prefix parses them', () => {
  assert.equal(sandboxName('swl', 4097), 'swl_ov-4097');
  assert.equal(parseSandboxName('swl', 'swl_ov-4097'), 4097);
  assert.equal(parseSandboxName('sw', 'swl_ov-4097'), undefined);
  assert.equal(parseSandboxName('swl', 'swl_ov-4097x'), undefined);
  assert.equal(parseSandboxName('swl', 'swl2_ov-4097'), undefined);
});

test('gateway leg names skip taken names and are stable for a task', () => {
  const first = gatewayLegName('lababcde-n10', 'task-1', new Set());
  assert.equal(first, gatewayLegName('lababcde-n10', 'task-1', new Set()));
  assert.equal(first.length, 15);
  const second = gatewayLegName('lababcde-n10', 'task-1', new Set([first]));
  assert.notEqual(second, first);
});

test('leg labels round-trip; anything else is not a label', () => {
  const label = { taskId: 'abc123', taskIf: 'eth1', address: '10.0.1.5/24' };
  assert.deepEqual(parseLegLabel(formatLegLabel(label)), label);
  assert.equal(parseLegLabel('something else'), undefined);
  assert.equal(parseLegLabel(undefined), undefined);
});

test('parsers read iproute2 and nft JSON as captured on this kernel', () => {
  const links = parseLinks(
    '[{"ifindex":2,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,' +
      '"linkinfo":{"info_kind":"bridge"},"addr_info":[{"family":"inet","local":"10.0.9.1","prefixlen":24},' +
      '{"family":"inet6","local":"fe80::1","prefixlen":64}]},' +
      '{"ifindex":3,"ifname":"vxlan0","flags":["BROADCAST","MULTICAST","UP"],"mtu":1450,"master":"br0",' +
      '"linkinfo":{"info_kind":"vxlan","info_data":{"id":77,"local":"198.19.222.1","port":4789,' +
      '"learning":false,"proxy":true}},"ifalias":"hello world","addr_info":[]}]',
  );
  assert.deepEqual(links[0], {
    ifName: 'br0',
    kind: 'bridge',
    alias: undefined,
    master: undefined,
    up: true,
    mtu: 1450,
    addresses: ['10.0.9.1/24'],
    vxlan: undefined,
  });
  assert.deepEqual(links[1].vxlan, {
    vni: 77,
    local: '198.19.222.1',
    port: 4789,
    learning: false,
    proxy: true,
  });
  assert.equal(links[1].alias, 'hello world');
  assert.deepEqual(
    parseNeighbors(
      '[{"dst":"10.0.9.5","dev":"vxlan0","lladdr":"02:42:0A:00:09:05","state":["PERMANENT"]},' +
        '{"dst":"10.0.1.9","dev":"br0","lladdr":"02:42:0a:00:01:09","state":["PERMANENT"]}]',
      'vxlan0',
    ),
    [{ ip: '10.0.9.5', mac: '02:42:0a:00:09:05' }],
  );
  assert.deepEqual(
    parseFdb(
      '[{"mac":"33:33:00:00:00:01","ifname":"br0","flags":["self"],"state":"permanent"},' +
        '{"mac":"b6:9f:a4:8d:b8:f1","ifname":"vxlan0","flags":[],"master":"br0","state":"permanent"},' +
        '{"mac":"02:42:0a:00:09:05","ifname":"vxlan0","dst":"198.19.222.2","flags":["self"],"state":"permanent"}]',
      'vxlan0',
    ),
    [{ mac: '02:42:0a:00:09:05', dst: '198.19.222.2' }],
  );
  assert.deepEqual(parseNetnsList(''), []);
  assert.deepEqual(parseNetnsList('[{"name":"swl_ov-4097","id":0},{"name":"other"}]'), [
    'swl_ov-4097',
    'other',
  ]);
  assert.deepEqual(
    parseGatewayTable(
      '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "x_gw"}}, ' +
        '{"chain": {"family": "inet", "table": "x_gw", "name": "postrouting", "type": "nat"}}, ' +
        '{"rule": {"family": "inet", "table": "x_gw", "chain": "postrouting", "handle": 2, "expr": [' +
        '{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, ' +
        '"right": {"prefix": {"addr": "172.18.0.0", "len": 16}}}}, ' +
        '{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "x_gwbridge"}}, {"masquerade": null}]}}]}',
    ),
    { chains: ['postrouting'], masqueradeSource: '172.18.0.0/16' },
  );
});
