// The endpoints table: records from tasks (pure), validation of what peers write, and two real gossip
// nodes on 127.0.0.1 sharing, then withdrawing, a running task's records.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createLogger } from '../../lib/log.js';
import { defaultTaskSpec, type Task } from '../../api/objects/index.js';
import { eventually, freePorts } from '../../test/support.js';
import { GossipNode } from '../gossip/node.js';
import { decodeEndpoint, encodeEndpoint, ENDPOINTS_TABLE } from './records.js';
import { endpointRecords, EndpointTable } from './table.js';

function task(over: Partial<Task> = {}): Task {
  return {
    id: 'task1abc',
    meta: { version: 1, createdAt: '', updatedAt: '' },
    serviceId: 'svc1',
    slot: 2,
    nodeId: 'node1',
    spec: defaultTaskSpec('host'),
    specVersion: 1,
    serviceName: 'web',
    desiredState: 'running',
    status: { state: 'running', timestamp: '', message: '', err: '' },
    networks: [
      { networkId: 'app', addresses: ['10.0.0.5/24'], aliases: ['www'] },
      { networkId: 'ingress', addresses: ['10.255.0.7/16'], aliases: [] },
      { networkId: 'pending', addresses: [], aliases: [] },
    ],
    endpoint: {
      ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 5000, publishMode: 'ingress' }],
      virtualIps: [
        { networkId: 'app', addr: '10.0.0.2/24' },
        { networkId: 'ingress', addr: '10.255.0.2/16' },
      ],
    },
    ...over,
  };
}

test('a running task gives one record per network it has an address on', () => {
  const recs = endpointRecords(task());
  assert.deepEqual(
    recs.map((r) => [r.networkId, r.record.ip, r.record.vip, r.record.endpointMode, r.record.aliases]),
    [
      ['app', '10.0.0.5', '10.0.0.2', 'vip', ['www']],
      ['ingress', '10.255.0.7', '10.255.0.2', 'vip', []],
    ],
  );
  assert.equal(recs[0]!.record.taskName, 'web.2.task1abc');
  const rr = endpointRecords(task({ endpoint: { ports: [], virtualIps: [] } }));
  assert.deepEqual(
    rr.map((r) => [r.record.vip, r.record.endpointMode]),
    [
      ['', 'dnsrr'],
      ['', 'dnsrr'],
    ],
    'no VIP: dnsrr',
  );
});

test('records round-trip; anything off-shape from a peer is refused, not passed to DNS or nft', () => {
  const [{ record }] = endpointRecords(task());
  assert.deepEqual(decodeEndpoint(encodeEndpoint(record)), record);
  const bad: [string, unknown][] = [
    ['not JSON', '{'],
    ['not an object', '"x"'],
    ['missing field', { ...record, taskId: undefined }],
    ['name with a space', { ...record, serviceName: 'we b' }],
    ['name with a newline', { ...record, taskName: 'web.1\nx' }],
    ['not an address', { ...record, ip: '10.0.0.256' }],
    ['nft text as an address', { ...record, ip: '10.0.0.1 } ; flush ruleset' }],
    ['vip mode without a VIP', { ...record, vip: '' }],
    ['dnsrr with a VIP', { ...record, endpointMode: 'dnsrr' }],
    ['unknown mode', { ...record, endpointMode: 'ipvs' }],
    ['an id that cannot be part of a chain name', { ...record, serviceId: 'svc;1' }],
    ['a label over 63 characters', { ...record, serviceName: 'a'.repeat(64) }],
    ['an empty label', { ...record, serviceName: 'a..b' }],
    [
      'an idle timeout past the kernel limit',
      { ...record, ports: [{ ...record.ports[0], idleTimeoutSeconds: 1e9 }] },
    ],
    [
      'bad port',
      {
        ...record,
        ports: [{ protocol: 'sctp', targetPort: 80, publishedPort: 5000, publishMode: 'ingress' }],
      },
    ],
    [
      'port out of range',
      {
        ...record,
        ports: [{ protocol: 'tcp', targetPort: 70000, publishedPort: 5000, publishMode: 'ingress' }],
      },
    ],
  ];
  for (const [what, value] of bad) {
    const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    assert.equal(decodeEndpoint(bytes), undefined, what);
  }
  const extra = decodeEndpoint(Buffer.from(JSON.stringify({ ...record, injected: 'x' })));
  assert.ok(extra && !('injected' in extra), 'unknown fields are dropped');
  const aliases = decodeEndpoint(Buffer.from(JSON.stringify({ ...record, aliases: ['ok', 'not ok', '-x'] })));
  assert.deepEqual(aliases?.aliases, ['ok'], 'a bad alias is dropped, not the task');
});

const nodes: GossipNode[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

test('two gossip nodes: an announced task appears on the other, a withdrawn one leaves it', async () => {
  const key = randomBytes(32);
  const ports = await freePorts(2);
  for (let i = 0; i < 2; i++)
    nodes.push(await GossipNode.start({ id: `n${i}`, bindAddr: '127.0.0.1', port: ports[i], keys: [key] }));
  const [a, b] = nodes as [GossipNode, GossipNode];
  b.join([a.addr]);
  await eventually('membership', () => a.members().some((m) => m.state === 'alive'), 30_000);
  for (const n of nodes) n.joinNetwork('app');
  const log = createLogger('silent');
  const subnets: Record<string, string> = { app: '10.0.0.', ingress: '10.255.' };
  const inSubnets = (network: string, ip: string) => ip.startsWith(subnets[network] ?? '-');
  const ta = new EndpointTable(a, log, inSubnets);
  const tb = new EndpointTable(b, log, inSubnets);
  const changes: string[] = [];
  tb.onChange((network) => changes.push(network));

  ta.announce(task({ nodeId: 'n0' }));
  assert.equal(ta.records('app').length, 1, 'local records are visible at once');
  await eventually('the record reaches b', () => tb.records('app').length === 1, 30_000);
  assert.equal(tb.records('app')[0]!.ip, '10.0.0.5');
  assert.ok(changes.includes('app'));
  assert.deepEqual(tb.records('ingress'), [], 'b is not on ingress: it holds nothing of it');

  // A peer writing garbage under the table, or speaking for a task another node runs, is not believed.
  b.setEntry(ENDPOINTS_TABLE, 'app', 'junk', Buffer.from('{"ip":"1.2.3.4 }"}'));
  const [{ record }] = endpointRecords(task({ id: 'forged1', nodeId: 'n0' }));
  b.setEntry(ENDPOINTS_TABLE, 'app', 'forged1', encodeEndpoint(record));
  // Nor one pointing outside the network's subnets (DNS answers and DNAT would send traffic there).
  const [{ record: outside }] = endpointRecords(
    task({
      id: 'outside1',
      nodeId: 'n1',
      networks: [{ networkId: 'app', addresses: ['192.0.2.9/24'], aliases: [] }],
    }),
  );
  b.setEntry(ENDPOINTS_TABLE, 'app', 'outside1', encodeEndpoint(outside));
  const [{ record: badVip }] = endpointRecords(
    task({
      id: 'badvip1',
      nodeId: 'n1',
      endpoint: { ports: [], virtualIps: [{ networkId: 'app', addr: '192.0.2.2/24' }] },
    }),
  );
  b.setEntry(ENDPOINTS_TABLE, 'app', 'badvip1', encodeEndpoint(badVip));
  const [{ record: fine }] = endpointRecords(task({ id: 'fine1', nodeId: 'n1' }));
  b.setEntry(ENDPOINTS_TABLE, 'app', 'fine1', encodeEndpoint(fine));
  assert.deepEqual(
    tb.records('app').map((r) => r.taskId),
    ['fine1', 'task1abc'],
  );
  b.deleteEntry(ENDPOINTS_TABLE, 'app', 'fine1');
  assert.deepEqual(
    tb.records('app').map((r) => r.taskId),
    ['task1abc'],
  );

  ta.withdraw('task1abc');
  ta.withdraw('task1abc'); // twice is harmless
  await eventually('the record leaves b', () => tb.records('app').length === 0, 30_000);
  ta.close();
  tb.close();
});
