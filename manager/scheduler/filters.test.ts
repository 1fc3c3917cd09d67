import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConstraintError, parseConstraints } from '../../api/constraints.js';
import {
  PIPELINE,
  availabilityFilter,
  constraintFilter,
  explainNoSuitableNode,
  firstRejection,
  hostPortFilter,
  readyFilter,
  resourceFilter,
  type Requirements,
} from './filters.js';
import { buildNodeInfos, hostPortsOf, type NodeInfo } from './node-info.js';
import { CPU, GiB, hostPort, node, task, type NodeOptions } from '../../api/objects/test-fixtures.js';
import type { Node, Task } from '../../api/objects/index.js';

function req(
  o: { cpus?: number; memoryBytes?: number; constraints?: string[]; ports?: string[] } = {},
): Requirements {
  const constraints = parseConstraints(o.constraints ?? []);
  if (constraints instanceof ConstraintError) assert.fail(constraints.message);
  return {
    serviceId: 'svc',
    reservations: { nanoCpus: (o.cpus ?? 0) * CPU, memoryBytes: o.memoryBytes ?? 0 },
    hostPorts: o.ports ?? [],
    constraints,
  };
}

function infoOf(n: Node, tasks: Task[] = []): NodeInfo {
  return buildNodeInfos([n], tasks, new Set()).get(n.id)!;
}

const info = (o: NodeOptions = {}, tasks: Task[] = []) => infoOf(node('n1', o), tasks);

test('readyFilter: only ready nodes take tasks', () => {
  const table: [NodeOptions['state'], boolean][] = [
    ['ready', true],
    ['down', false],
    ['unknown', false],
    ['disconnected', false],
  ];
  for (const [state, want] of table) assert.equal(readyFilter.accepts(info({ state }), req()), want, state);
});

test('availabilityFilter: pause and drain take no new tasks', () => {
  const table: [NodeOptions['availability'], boolean][] = [
    ['active', true],
    ['pause', false],
    ['drain', false],
  ];
  for (const [availability, want] of table) {
    assert.equal(availabilityFilter.accepts(info({ availability }), req()), want, availability);
  }
});

test('resourceFilter: reservations of live tasks plus this one must fit, per dimension', () => {
  const live = [
    task('a', 'other', { nodeId: 'n1', cpus: 2, memoryBytes: 4 * GiB }),
    task('b', 'other', { nodeId: 'n1', cpus: 1, memoryBytes: 1 * GiB, state: 'assigned' }),
    // terminal tasks hold nothing any more
    task('c', 'other', { nodeId: 'n1', cpus: 4, memoryBytes: 8 * GiB, state: 'failed' }),
    task('d', 'other', { nodeId: 'n1', cpus: 4, memoryBytes: 8 * GiB, state: 'shutdown' }),
  ];
  const n = info({ cpus: 4, memoryBytes: 8 * GiB }, live); // 1 CPU and 3 GiB left
  const table: [Parameters<typeof req>[0], boolean][] = [
    [{}, true],
    [{ cpus: 1 }, true],
    [{ cpus: 1.5 }, false],
    [{ memoryBytes: 3 * GiB }, true],
    [{ memoryBytes: 3 * GiB + 1 }, false],
    [{ cpus: 1, memoryBytes: 3 * GiB }, true],
    [{ cpus: 0.5, memoryBytes: 4 * GiB }, false],
  ];
  for (const [r, want] of table) assert.equal(resourceFilter.accepts(n, req(r)), want, JSON.stringify(r));
});

test('resourceFilter: a dimension advertised as 0 is unknown and not limited', () => {
  const n = info({ cpus: 0, memoryBytes: 1 * GiB });
  assert.equal(resourceFilter.accepts(n, req({ cpus: 64 })), true);
  assert.equal(resourceFilter.accepts(n, req({ cpus: 64, memoryBytes: 2 * GiB })), false);
  const none = info({ cpus: 0, memoryBytes: 0 });
  assert.equal(resourceFilter.accepts(none, req({ cpus: 64, memoryBytes: 1024 * GiB })), true);
});

test('constraintFilter: applies the parsed constraints to the node', () => {
  const n = info({ role: 'manager', labels: { zone: 'eu' } });
  assert.equal(constraintFilter.accepts(n, req({ constraints: ['node.role==manager'] })), true);
  assert.equal(constraintFilter.accepts(n, req({ constraints: ['node.labels.zone!=eu'] })), false);
  assert.equal(constraintFilter.accepts(n, req()), true);
});

test('hostPortFilter: same protocol and port held by a live task conflicts; others do not', () => {
  const live = [
    task('a', 'other', { nodeId: 'n1', ports: [hostPort(80)] }),
    task('b', 'other', { nodeId: 'n1', ports: [hostPort(53, 'udp')], state: 'assigned' }),
    task('c', 'other', { nodeId: 'n1', ports: [hostPort(8080)], state: 'complete' }),
    task('d', 'other', { nodeId: 'n1', ports: [{ ...hostPort(9000), publishMode: 'ingress' }] }),
  ];
  const n = info({}, live);
  const table: [string[], boolean][] = [
    [[], true],
    [['tcp/80'], false],
    [['udp/80'], true],
    [['udp/53'], false],
    [['tcp/53'], true],
    [['tcp/8080'], true], // its holder completed
    [['tcp/9000'], true], // ingress ports are on the mesh, not the host
    [['tcp/81', 'tcp/80'], false],
  ];
  for (const [ports, want] of table)
    assert.equal(hostPortFilter.accepts(n, req({ ports })), want, ports.join());
});

test('hostPortsOf: fixed host-mode ports only, deduplicated and sorted', () => {
  const t = task('t', 's', {
    ports: [
      hostPort(443),
      hostPort(80),
      hostPort(80),
      hostPort(0),
      { ...hostPort(8080), publishMode: 'ingress' },
    ],
  });
  assert.deepEqual(hostPortsOf(t), ['tcp/443', 'tcp/80']);
});

test('firstRejection: pipeline order decides which filter a node is charged to', () => {
  assert.deepEqual(
    PIPELINE.map((f) => f.name),
    ['ready', 'availability', 'resources', 'task-limit', 'constraints', 'host-port'],
  );
  const downAndFull = info({ state: 'down', cpus: 1 });
  assert.equal(firstRejection(downAndFull, req({ cpus: 2 })), readyFilter);
  assert.equal(
    firstRejection(info({ cpus: 1 }), req({ cpus: 2, constraints: ['node.id==x'] })),
    resourceFilter,
  );
  assert.equal(firstRejection(info(), req({ constraints: ['node.id==x'] })), constraintFilter);
  assert.equal(firstRejection(info(), req()), undefined);
});

test('explainNoSuitableNode: Docker wording, counts per reason, in pipeline order', () => {
  const infos = buildNodeInfos(
    [
      node('a'),
      node('b', { state: 'down' }),
      node('c', { availability: 'drain' }),
      node('d', { cpus: 1 }),
      node('e', { cpus: 1 }),
      node('f', { labels: { zone: 'us' } }),
    ],
    [task('p', 'other', { nodeId: 'a', ports: [hostPort(80)] })],
    new Set(),
  );
  const r = req({ cpus: 2, constraints: ['node.labels.zone!=us'], ports: ['tcp/80'] });
  assert.equal(
    explainNoSuitableNode(infos.values(), r),
    'no suitable node (2 nodes not available for new tasks; 2 nodes have insufficient resources; ' +
      'scheduling constraints not satisfied on 1 node; host-mode port already in use on 1 node)',
  );
  const one = buildNodeInfos([node('x', { availability: 'pause' }), node('y', { cpus: 1 })], [], new Set());
  assert.equal(
    explainNoSuitableNode(one.values(), req({ cpus: 2 })),
    'no suitable node (1 node not available for new tasks; 1 node has insufficient resources)',
  );
  assert.equal(explainNoSuitableNode([], req()), 'no suitable node (no nodes in the swarm)');
});
