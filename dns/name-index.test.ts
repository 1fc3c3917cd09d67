// Table tests of the pure core's naming rules: what each network's index holds, and what lookup()
// answers a task attached to some networks, for names on its networks, on others, and nowhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lookup, QTYPE, type LookupResult } from './lookup.js';
import {
  buildNetworkIndex,
  ownedNames,
  reverseName,
  SwarmOwnedNames,
  TASK_TTL,
  VIP_TTL,
} from './name-index.js';
import { record } from './test-support.js';

const front = [
  record({ serviceName: 'web', taskId: 't1', ip: '10.0.1.5', vip: '10.0.1.2', aliases: ['www'] }),
  record({ serviceName: 'web', taskId: 't2', ip: '10.0.1.4', vip: '10.0.1.2', taskName: 'web.2.t2' }),
  record({ serviceName: 'db', taskId: 't3', ip: '10.0.1.9', endpointMode: 'dnsrr' }),
  record({ serviceName: 'db', taskId: 't4', ip: '10.0.1.8', endpointMode: 'dnsrr', aliases: ['www'] }),
];
const back = [
  record({ serviceName: 'secret', taskId: 't5', ip: '10.0.2.5', vip: '10.0.2.2' }),
  record({ serviceName: 'web', taskId: 't6', ip: '10.0.2.6', vip: '10.0.2.3' }),
];

test('a network index: services, tasks.<service>, task names, aliases and PTRs', () => {
  const idx = buildNetworkIndex(front);
  const names = Object.fromEntries([...idx.names].map(([k, v]) => [k, v]));
  assert.deepEqual(names, {
    web: { ips: ['10.0.1.2'], shuffle: false, ttl: VIP_TTL },
    db: { ips: ['10.0.1.8', '10.0.1.9'], shuffle: true, ttl: TASK_TTL },
    'tasks.web': { ips: ['10.0.1.4', '10.0.1.5'], shuffle: true, ttl: TASK_TTL },
    'tasks.db': { ips: ['10.0.1.8', '10.0.1.9'], shuffle: true, ttl: TASK_TTL },
    'web.1.t1': { ips: ['10.0.1.5'], shuffle: false, ttl: TASK_TTL },
    'web.2.t2': { ips: ['10.0.1.4'], shuffle: false, ttl: TASK_TTL },
    'db.1.t3': { ips: ['10.0.1.9'], shuffle: false, ttl: TASK_TTL },
    'db.1.t4': { ips: ['10.0.1.8'], shuffle: false, ttl: TASK_TTL },
    www: { ips: ['10.0.1.5', '10.0.1.8'], shuffle: true, ttl: TASK_TTL },
  });
  assert.deepEqual(Object.fromEntries(idx.ptr), {
    '5.1.0.10.in-addr.arpa': ['web.1.t1', 'www'],
    '4.1.0.10.in-addr.arpa': ['web.2.t2'],
    '2.1.0.10.in-addr.arpa': ['web'],
    '9.1.0.10.in-addr.arpa': ['db.1.t3'],
    '8.1.0.10.in-addr.arpa': ['db.1.t4', 'www'],
  });
  // The same records in another order give the same index.
  assert.deepEqual(buildNetworkIndex([...front].reverse()), idx);
});

test('collisions: a service name beats tasks., task names and aliases; names are lower-cased', () => {
  const idx = buildNetworkIndex([
    record({ serviceName: 'API', taskId: 'a1', ip: '10.0.3.5', vip: '10.0.3.2' }),
    record({
      serviceName: 'other',
      taskId: 'o1',
      ip: '10.0.3.6',
      vip: '10.0.3.3',
      aliases: ['api', 'tasks.api'],
    }),
  ]);
  assert.deepEqual(idx.names.get('api')?.ips, ['10.0.3.2']);
  assert.deepEqual(idx.names.get('tasks.api')?.ips, ['10.0.3.5']);
  assert.equal(reverseName('10.0.3.5'), '5.3.0.10.in-addr.arpa');
});

test('lookup: answers only from the task networks, NXDOMAIN for owned names elsewhere, forward the rest', () => {
  const f = buildNetworkIndex(front);
  const b = buildNetworkIndex(back);
  const owned = ownedNames([f, b]);
  const A = QTYPE.A;
  const cases: [string, number, LookupResult][] = [
    ['web', A, { kind: 'answer', type: 'A', data: ['10.0.1.2'], ttl: VIP_TTL, shuffle: false }],
    ['WEB.', A, { kind: 'answer', type: 'A', data: ['10.0.1.2'], ttl: VIP_TTL, shuffle: false }],
    ['tasks.db', A, { kind: 'answer', type: 'A', data: ['10.0.1.8', '10.0.1.9'], ttl: 0, shuffle: true }],
    ['web.2.t2', A, { kind: 'answer', type: 'A', data: ['10.0.1.4'], ttl: 0, shuffle: false }],
    ['web', QTYPE.AAAA, { kind: 'nodata' }],
    ['web', 15 /* MX */, { kind: 'nodata' }],
    ['web', QTYPE.ANY, { kind: 'answer', type: 'A', data: ['10.0.1.2'], ttl: VIP_TTL, shuffle: false }],
    [
      '5.1.0.10.in-addr.arpa',
      QTYPE.PTR,
      { kind: 'answer', type: 'PTR', data: ['web.1.t1', 'www'], ttl: 0, shuffle: false },
    ],
    ['5.1.0.10.in-addr.arpa', A, { kind: 'nodata' }],
    // `secret` lives only on the back network: the task does not share it.
    ['secret', A, { kind: 'nxdomain' }],
    ['tasks.secret', A, { kind: 'nxdomain' }],
    ['secret', QTYPE.AAAA, { kind: 'nxdomain' }],
    ['5.2.0.10.in-addr.arpa', QTYPE.PTR, { kind: 'nxdomain' }],
    ['example.com', A, { kind: 'forward' }],
    ['1.1.168.192.in-addr.arpa', QTYPE.PTR, { kind: 'forward' }],
    ['', A, { kind: 'forward' }],
  ];
  for (const [name, type, want] of cases)
    assert.deepEqual(lookup([f], owned, name, type, 1), want, `${name} ${type}`);
  // Class CH (version.bind and friends) is never ours.
  assert.deepEqual(lookup([f], owned, 'web', A, 3), { kind: 'forward' });
});

test('lookup: the first of the task networks holding a name answers', () => {
  const f = buildNetworkIndex(front);
  const b = buildNetworkIndex(back);
  const owned = ownedNames([f, b]);
  assert.deepEqual((lookup([b, f], owned, 'web', QTYPE.A, 1) as unknown as { data: string[] }).data, [
    '10.0.2.3',
  ]);
  assert.deepEqual((lookup([f, b], owned, 'web', QTYPE.A, 1) as unknown as { data: string[] }).data, [
    '10.0.1.2',
  ]);
  assert.deepEqual((lookup([f, b], owned, 'secret', QTYPE.A, 1) as unknown as { data: string[] }).data, [
    '10.0.2.2',
  ]);
  assert.deepEqual(lookup([], owned, 'web', QTYPE.A, 1), { kind: 'nxdomain' });
});

test('swarm ownership: service names, tasks.<service> and task names of the swarm, whatever the node has', () => {
  const owned = new SwarmOwnedNames(ownedNames([buildNetworkIndex(front)]), new Set(['secret', 'my.app']));
  const id = 'k'.repeat(25);
  const cases: [string, boolean][] = [
    ['web', true], // on a network of this node
    ['secret', true], // on no network of this node, but the swarm's
    ['tasks.secret', true],
    [`secret.2.${id}`, true],
    [`secret.${id}.${id}`, true], // a global service's task
    [`my.app.1.${id}`, true],
    ['secret.example.com', false],
    [`secret.2.short`, false],
    ['tasks.other', false],
    ['example.com', false],
  ];
  for (const [name, want] of cases) assert.equal(owned.has(name), want, name);
  const r: LookupResult = lookup([buildNetworkIndex(front)], owned, 'secret', QTYPE.A, 1);
  assert.deepEqual(r, { kind: 'nxdomain' });
});
