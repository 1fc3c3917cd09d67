// Fuzzing the endpoint records other nodes gossip (issue 18, bounded for CI; lib/fuzz.ts): random
// shapes and random bytes are refused (undefined), never thrown on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_ROUNDS, prng, randomBuf } from '../../lib/fuzz.js';
import { decodeEndpoint } from './records.js';

test('endpoint records from gossip: random shapes are refused (undefined), never thrown on', () => {
  const rand = prng(3);
  const values: unknown[] = [null, 0, -1, 1e300, '', 'x', '10.0.0.1', true, [], {}, [1], { a: 1 }];
  const pick = () => values[Math.floor(rand() * values.length)];
  const keys = [
    'serviceId',
    'serviceName',
    'taskId',
    'taskName',
    'nodeId',
    'ip',
    'vip',
    'endpointMode',
    'aliases',
    'ports',
  ];
  for (let i = 0; i < FUZZ_ROUNDS; i++) {
    const o: Record<string, unknown> = {};
    for (const k of keys) if (rand() < 0.8) o[k] = pick();
    assert.equal(decodeEndpoint(Buffer.from(JSON.stringify(o))), undefined, JSON.stringify(o));
    decodeEndpoint(randomBuf(rand, 80));
  }
});

test('a standalone container on an overlay is a record of no service: dnsrr, no VIP, no ports', () => {
  const container = {
    serviceId: '',
    serviceName: '',
    taskId: 'c'.repeat(64),
    taskName: 'ctr',
    nodeId: 'node2',
    ip: '10.0.9.3',
    vip: '',
    endpointMode: 'dnsrr',
    aliases: ['db'],
    ports: [],
  };
  const enc = (o: object) => Buffer.from(JSON.stringify(o));
  assert.deepEqual(decodeEndpoint(enc(container)), container);
  for (const bad of [
    { serviceId: 'svc1' }, // a service id needs its name
    { serviceName: 'web' }, // a name needs its id
    { endpointMode: 'vip', vip: '10.0.9.2' },
    { ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 'ingress' }] },
    { taskName: 'not a name' },
  ])
    assert.equal(decodeEndpoint(enc({ ...container, ...bad })), undefined, JSON.stringify(bad));
});
