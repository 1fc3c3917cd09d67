// Which names a container sees on the embedded DNS: the records of dns-records.ts run through the
// resolver's own pure core (dns/name-index.ts, dns/lookup.ts), as a table of (who asks, what) → answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildNetworkIndex, ownedNames } from '../../dns/name-index.js';
import { lookup, QTYPE } from '../../dns/lookup.js';
import { ContainerNameTable, dnsEntriesOf, endpointRecordOf, usesEmbeddedDns } from './dns-records.js';
import type { ContainerRecord, ContainerState } from './lifecycle.js';
import { record } from './lifecycle.test.js';

const APP = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const BRIDGE = 'c'.repeat(64);
const nets: Record<string, string> = { appnet: APP, othernet: OTHER, bridge: BRIDGE };

/** A container with one leg (the network it was created on), `aliases` its `--network-alias`es there. */
function container(
  id: string,
  name: string,
  network: string,
  ip: string,
  status: ContainerState['status'] = 'running',
  aliases?: string[],
): ContainerRecord {
  const r = record({ status });
  return {
    ...r,
    id: id.repeat(64 / id.length),
    name,
    hostConfig: { ...r.hostConfig, networkMode: network, ...(aliases ? { networkAliases: aliases } : {}) },
    networks: [
      {
        networkId: nets[network]!,
        networkName: network,
        address: `${ip}/16`,
        gateway: '',
        macAddress: '',
        ports: [],
        ...(aliases ? { aliases } : {}),
      },
    ],
  };
}

const node = [
  container('1', 'c1', 'appnet', '172.19.0.2', 'running', ['db', 'DB2']),
  container('2', 'c2', 'appnet', '172.19.0.3'),
  container('3', 'stopped', 'appnet', '172.19.0.4', 'exited'),
  container('4', 'again', 'appnet', '172.19.0.5', 'restarting'),
  container('5', 'o1', 'othernet', '172.20.0.2', 'running', ['db']),
  container('6', 'd1', 'bridge', '172.17.0.2'),
];

function tableOf(records: ContainerRecord[]): ContainerNameTable {
  const t = new ContainerNameTable();
  for (const r of records) t.set(r.id, dnsEntriesOf(r));
  return t;
}

/** What a container on `network` gets for `name` (A): the addresses, 'NXDOMAIN' or 'forward'. */
function ask(table: ContainerNameTable, network: string, name: string, qtype: number = QTYPE.A) {
  const indexes = Object.values(nets).map((id) => [id, buildNetworkIndex(table.records(id))] as const);
  const view = indexes.filter(([id]) => id === nets[network]).map(([, idx]) => idx);
  const r = lookup(view, ownedNames(indexes.map(([, idx]) => idx)), name, qtype, 1);
  return r.kind === 'answer' ? r.data.join(',') : r.kind;
}

test('which networks have the embedded DNS: user networks only, as in Docker', () => {
  assert.deepEqual(['appnet', 'my.net', 'bridge', 'host', 'none'].map(usesEmbeddedDns), [
    true,
    true,
    false,
    false,
    false,
  ]);
});

test('a container on a user network sees the running containers of that network, by name, short id and alias', () => {
  const table = tableOf(node);
  const cases: [string, string, string][] = [
    // [asking from, name, answer]
    ['appnet', 'c1', '172.19.0.2'],
    ['appnet', 'C1.', '172.19.0.2'],
    ['appnet', 'c2', '172.19.0.3'],
    ['appnet', '111111111111', '172.19.0.2'], // short id
    ['appnet', 'db', '172.19.0.2'], // alias on appnet; othernet's db is not mixed in
    ['appnet', 'db2', '172.19.0.2'],
    ['appnet', 'stopped', 'forward'], // not running: no record at all
    ['appnet', 'again', 'forward'], // restarting: between runs, no endpoint
    ['appnet', 'o1', 'nxdomain'], // another network's container: never answered
    ['appnet', 'd1', 'forward'], // the default bridge has no names
    ['appnet', 'example.com', 'forward'],
    ['othernet', 'db', '172.20.0.2'],
    ['othernet', 'c1', 'nxdomain'],
    ['bridge', 'c1', 'nxdomain'], // (the default bridge's containers do not ask 127.0.0.11 at all)
  ];
  for (const [from, name, want] of cases) assert.equal(ask(table, from, name), want, `${name} from ${from}`);
  assert.equal(ask(table, 'appnet', 'c1', QTYPE.AAAA), 'nodata');
  assert.equal(ask(table, 'appnet', '2.0.19.172.in-addr.arpa', QTYPE.PTR), 'c1,111111111111,db,db2');
});

test('no service names come from containers: only the container and its aliases', () => {
  const idx = buildNetworkIndex(tableOf(node).records(APP));
  assert.deepEqual([...idx.names.keys()].sort(), ['111111111111', '222222222222', 'c1', 'c2', 'db', 'db2']);
});

test('the table follows the records: a stop or removal takes the names, only changed networks are told', () => {
  const table = tableOf(node);
  const told: string[] = [];
  const stop = table.onChange((n) => told.push(n));
  const c1 = node[0]!;
  table.set(c1.id, dnsEntriesOf(c1)); // the same again: nothing to tell
  assert.deepEqual(told, []);
  table.set(c1.id, dnsEntriesOf({ ...c1, state: { ...c1.state, status: 'exited' } }));
  assert.deepEqual(told, [APP]);
  assert.equal(ask(table, 'appnet', 'c1'), 'forward');
  assert.equal(ask(table, 'appnet', 'c2'), '172.19.0.3');
  table.set(c1.id, dnsEntriesOf(c1));
  assert.equal(ask(table, 'appnet', 'db'), '172.19.0.2');
  table.set(node[4]!.id, []); // o1 removed
  assert.deepEqual(told, [APP, APP, OTHER]);
  assert.equal(ask(table, 'othernet', 'o1'), 'forward');
  assert.equal(ask(table, 'othernet', 'db'), 'nxdomain'); // still appnet's alias: owned, not othernet's
  stop();
  table.set(c1.id, []);
  assert.equal(told.length, 3);
});

test('one entry per (container, network): a container on two networks answers on each with its own address', () => {
  const table = new ContainerNameTable();
  const c = container('7', 'multi', 'appnet', '172.19.0.9');
  // `network connect --alias m othernet multi`: a second leg with its own alias; the default bridge's leg has no names.
  const connected: ContainerRecord = {
    ...c,
    networks: [
      ...c.networks!,
      {
        ...c.networks![0]!,
        networkId: OTHER,
        networkName: 'othernet',
        address: '172.20.0.9/16',
        aliases: ['m'],
        ifName: 'eth1',
      },
      {
        ...c.networks![0]!,
        networkId: BRIDGE,
        networkName: 'bridge',
        address: '172.17.0.9/16',
        ifName: 'eth2',
      },
    ],
  };
  assert.deepEqual(
    dnsEntriesOf(connected).map((e) => [e.networkId, e.ip, e.aliases]),
    [
      [APP, '172.19.0.9', ['777777777777']],
      [OTHER, '172.20.0.9', ['777777777777', 'm']],
    ],
  );
  table.set(c.id, dnsEntriesOf(connected));
  assert.equal(ask(table, 'appnet', 'multi'), '172.19.0.9');
  assert.equal(ask(table, 'othernet', 'multi'), '172.20.0.9');
  assert.equal(ask(table, 'othernet', 'm'), '172.20.0.9');
  assert.equal(ask(table, 'appnet', 'm'), 'nxdomain');
});

test('names that are not DNS names are left out, never answered half', () => {
  assert.deepEqual(dnsEntriesOf(container('8', 'a..b', 'appnet', '172.19.0.8')), []);
  const rec = endpointRecordOf({
    containerId: '9',
    networkId: APP,
    name: 'ok',
    ip: '1.2.3.4',
    aliases: ['bad alias', 'good'],
  });
  assert.deepEqual(rec.aliases, ['good']);
  assert.equal(rec.serviceName, '');
});

test('a record older than network connect (one networkSettings) answers as its one network', () => {
  const c = container('8', 'old', 'appnet', '172.19.0.8', 'running', ['legacy']);
  const { networks, ...rest } = c;
  const old: ContainerRecord = { ...rest, networkSettings: networks![0]! };
  assert.deepEqual(dnsEntriesOf(old), dnsEntriesOf(c));
  assert.deepEqual(dnsEntriesOf(old)[0]!.aliases, ['888888888888', 'legacy']);
});
