// Sample packets walked through rendered tables (walk.ts reads the nft text, not the model's data).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIngressTable, renderPublishTable, renderVipTable } from './model.js';
import { renderReturnTable, returnMark } from './return-path.js';
import { walk, walkReturn, type SamplePacket } from './walk.js';
import type { Backend, PublishedPort } from './types.js';

const PUBLISHED: PublishedPort[] = [
  { protocol: 'tcp', publishedPort: 5000, targetPort: 80, serviceId: 'web' },
  { protocol: 'udp', publishedPort: 5000, targetPort: 53, serviceId: 'dns' },
  { protocol: 'tcp', publishedPort: 6000, targetPort: 80, serviceId: 'idle' },
];
const BACKENDS: Backend[] = [
  { serviceId: 'web', networkId: 'ingress', address: '10.255.0.6' },
  { serviceId: 'web', networkId: 'ingress', address: '10.255.0.5' },
  { serviceId: 'dns', networkId: 'ingress', address: '10.255.0.9' },
];
const ingress = renderIngressTable({
  prefix: 'swl',
  ingressNetworkId: 'ingress',
  published: PUBLISHED,
  backends: BACKENDS,
}).text;
const toNode = (over: Partial<SamplePacket>): SamplePacket => ({
  origin: 'incoming',
  daddr: '198.18.0.11',
  protocol: 'tcp',
  dport: 5000,
  localDestination: true,
  ...over,
});

test('a client packet to a published port is DNATed to one of the live tasks and masqueraded', () => {
  assert.deepEqual(walk(ingress, toNode({})), { dnat: ['10.255.0.5:80', '10.255.0.6:80'], masquerade: true });
});

test('the same port number over UDP goes to the other service', () => {
  assert.deepEqual(walk(ingress, toNode({ protocol: 'udp' })), { dnat: ['10.255.0.9:53'], masquerade: true });
});

test("the node's own connection to its address is balanced too (output hook)", () => {
  assert.deepEqual(walk(ingress, toNode({ origin: 'local' })), {
    dnat: ['10.255.0.5:80', '10.255.0.6:80'],
    masquerade: true,
  });
});

test('a published port without tasks is rejected, TCP with a reset, from outside and from the node', () => {
  assert.equal(walk(ingress, toNode({ dport: 6000 })).rejected, 'tcp-reset');
  assert.equal(walk(ingress, toNode({ dport: 6000, origin: 'local' })).rejected, 'tcp-reset');
  const noDns = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: PUBLISHED,
    backends: [],
  });
  assert.equal(walk(noDns.text, toNode({ protocol: 'udp' })).rejected, 'icmp-port-unreachable');
});

test('traffic the mesh does not own is untouched', () => {
  const untouched = { masquerade: false };
  assert.deepEqual(walk(ingress, toNode({ dport: 5001 })), untouched, 'an unpublished port');
  assert.deepEqual(walk(ingress, toNode({ localDestination: false })), untouched, 'passing through');
  assert.deepEqual(walk(ingress, toNode({ origin: 'local', daddr: '127.0.0.1' })), untouched, 'loopback');
  assert.deepEqual(
    walk(ingress, toNode({ origin: 'local', localDestination: false })),
    untouched,
    'outbound',
  );
});

test('the node forwards published ports to its ingress sandbox unchanged, without masquerade', () => {
  const publish = renderPublishTable({
    prefix: 'swl',
    published: PUBLISHED,
    sandboxAddress: '172.18.0.2',
  }).text;
  assert.deepEqual(walk(publish, toNode({})), { dnat: ['172.18.0.2:5000'], masquerade: false });
  assert.deepEqual(walk(publish, toNode({ dport: 6000 })), { dnat: ['172.18.0.2:6000'], masquerade: false });
});

test("a task's VIP is balanced over the service's tasks on that network, any port, no masquerade", () => {
  const vips = renderVipTable({
    prefix: 'swl',
    networkIds: ['appnet'],
    vips: [
      { serviceId: 'web', networkId: 'appnet', address: '10.0.1.2' },
      { serviceId: 'db', networkId: 'appnet', address: '10.0.1.3' },
    ],
    backends: [
      { serviceId: 'web', networkId: 'appnet', address: '10.0.1.5' },
      { serviceId: 'web', networkId: 'appnet', address: '10.0.1.4' },
      { serviceId: 'web', networkId: 'ingress', address: '10.255.0.4' },
    ],
  }).text;
  const fromTask = (daddr: string, dport = 80): SamplePacket => ({
    origin: 'local',
    daddr,
    protocol: 'tcp',
    dport,
    localDestination: false,
  });
  assert.deepEqual(walk(vips, fromTask('10.0.1.2')), { dnat: ['10.0.1.4', '10.0.1.5'], masquerade: false });
  assert.deepEqual(walk(vips, fromTask('10.0.1.2', 8443)), {
    dnat: ['10.0.1.4', '10.0.1.5'],
    masquerade: false,
  });
  assert.equal(walk(vips, fromTask('10.0.1.3')).rejected, 'tcp-reset');
  assert.deepEqual(walk(vips, fromTask('10.0.1.9')), { masquerade: false });
});

test('a port with an idle timeout gets its ct timeout object, from outside and from the node; others none', () => {
  const timed = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: PUBLISHED.map((p) => (p.protocol === 'udp' ? { ...p, idleTimeoutSeconds: 600 } : p)),
    backends: BACKENDS,
  }).text;
  assert.deepEqual(walk(timed, toNode({ protocol: 'udp' })), {
    ctTimeout: 'idle-udp-600s',
    dnat: ['10.255.0.9:53'],
    masquerade: true,
  });
  assert.equal(walk(timed, toNode({ protocol: 'udp', origin: 'local' })).ctTimeout, 'idle-udp-600s');
  assert.deepEqual(walk(timed, toNode({})), { dnat: ['10.255.0.5:80', '10.255.0.6:80'], masquerade: true });
});

test('a port that keeps the client address: DNATed, the task sees the client; the others still masquerade', () => {
  const mixed = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: PUBLISHED.map((p) => (p.protocol === 'tcp' ? { ...p, preserveClientAddress: true } : p)),
    backends: BACKENDS,
  }).text;
  const client = '198.18.7.9';
  assert.deepEqual(walk(mixed, toNode({ saddr: client })), {
    dnat: ['10.255.0.5:80', '10.255.0.6:80'],
    masquerade: false,
    source: client,
  });
  assert.deepEqual(walk(mixed, toNode({ protocol: 'udp', saddr: client })), {
    dnat: ['10.255.0.9:53'],
    masquerade: true,
    source: 'masqueraded',
  });
  assert.equal(walk(ingress, toNode({ saddr: client })).source, 'masqueraded', 'the default');
  // The node's publish table never masqueraded: the sandbox sees the client either way.
  const publish = renderPublishTable({ prefix: 'swl', published: PUBLISHED, sandboxAddress: '172.18.0.2' });
  assert.equal(walk(publish.text, toNode({ saddr: client })).source, client);
});

test("a task's return table marks connections by the sending sandbox, and its replies carry the mark", () => {
  const table = renderReturnTable({ prefix: 'swl', sandboxes: [{ ip: '10.255.0.2' }, { ip: '10.255.1.7' }] });
  assert.deepEqual(walkReturn(table.text, { ethSaddr: '02:42:0a:ff:00:02' }), {
    ctMark: returnMark('10.255.0.2'),
    replyMark: 0x10002,
  });
  assert.deepEqual(walkReturn(table.text, { ethSaddr: '02:42:0a:ff:01:07' }), {
    ctMark: 0x10107,
    replyMark: 0x10107,
  });
  // A frame from anyone else (another task, the gateway bridge) is left alone, and so are its replies.
  assert.deepEqual(walkReturn(table.text, { ethSaddr: '02:42:0a:ff:00:09' }), { ctMark: 0, replyMark: 0 });
});

test('the walker refuses statements it does not know', () => {
  const odd = ingress.replace('meta mark set meta mark | 0x00800000', 'counter');
  assert.throws(() => walk(odd, toNode({})), /unknown statement 'counter'/);
});
