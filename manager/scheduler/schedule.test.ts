import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduleBatch } from './schedule.js';
import { GiB, hostPort, node, perNode, replicas, task } from '../../api/objects/test-fixtures.js';

const nodes3 = () => [node('a'), node('b'), node('c')];

test('spread: 6 replicas on 3 empty nodes go 2 per node', () => {
  const r = scheduleBatch({ nodes: nodes3(), tasks: [] }, replicas('web', 6));
  assert.deepEqual(perNode(r.assignments), { a: 2, b: 2, c: 2 });
  assert.equal(r.unschedulable.size, 0);
});

test('spread: nodes that already hold the service get fewer new replicas', () => {
  const existing = [
    task('old1', 'web', { nodeId: 'a', slot: 1 }),
    task('old2', 'web', { nodeId: 'a', slot: 2 }),
  ];
  const pending = replicas('web', 4).map((t, i) => ({ ...t, id: `new${i}`, slot: i + 3 }));
  const r = scheduleBatch({ nodes: nodes3(), tasks: existing }, pending);
  assert.deepEqual(perNode(r.assignments), { b: 2, c: 2 });
});

test('spread: ties on the service go to the node with fewer tasks overall, then the lower id', () => {
  const existing = [
    task('x1', 'other', { nodeId: 'a' }),
    task('x2', 'other', { nodeId: 'a' }),
    task('x3', 'other', { nodeId: 'b' }),
  ];
  const r = scheduleBatch({ nodes: nodes3(), tasks: existing }, replicas('web', 2));
  // c (0 tasks) first, then b (1 task) rather than a (2 tasks)
  assert.deepEqual(
    [...r.assignments],
    [
      ['web.1', 'c'],
      ['web.2', 'b'],
    ],
  );
  const tie = scheduleBatch({ nodes: [node('z'), node('m'), node('q')], tasks: [] }, replicas('web', 1));
  assert.equal(tie.assignments.get('web.1'), 'm');
});

test('spread: terminal tasks and tasks on removed nodes do not count', () => {
  const existing = [
    task('dead1', 'web', { nodeId: 'a', state: 'failed' }),
    task('dead2', 'web', { nodeId: 'a', state: 'shutdown' }),
    task('gone', 'web', { nodeId: 'r' }),
  ];
  const nodes = [...nodes3(), node('r', { removed: true })];
  const r = scheduleBatch({ nodes, tasks: existing }, replicas('web', 3));
  assert.deepEqual(perNode(r.assignments), { a: 1, b: 1, c: 1 });
});

test('pending tasks also present in the state are not counted twice', () => {
  const pending = replicas('web', 3);
  const r = scheduleBatch({ nodes: nodes3(), tasks: pending }, pending);
  assert.deepEqual(perNode(r.assignments), { a: 1, b: 1, c: 1 });
  // the same task twice in the batch is scheduled once
  const dup = scheduleBatch({ nodes: nodes3(), tasks: [] }, [...pending, ...pending]);
  assert.equal(dup.assignments.size, 3);
});

test('resources: the batch own assignments count, and the rest get a reason', () => {
  const nodes = [node('a', { cpus: 2 }), node('b', { cpus: 2 }), node('c', { cpus: 2 })];
  const r = scheduleBatch({ nodes, tasks: [] }, replicas('web', 7, { cpus: 1 }));
  assert.deepEqual(perNode(r.assignments), { a: 2, b: 2, c: 2 });
  assert.deepEqual(
    [...r.unschedulable],
    [['web.7', 'no suitable node (3 nodes have insufficient resources)']],
  );
});

test('resources: existing reservations and other services in the same batch share the node', () => {
  const nodes = [node('a', { memoryBytes: 4 * GiB }), node('b', { memoryBytes: 4 * GiB })];
  const existing = [task('db', 'db', { nodeId: 'a', memoryBytes: 3 * GiB })];
  const pending = [
    ...replicas('cache', 2, { memoryBytes: 2 * GiB }),
    ...replicas('web', 2, { memoryBytes: 1 * GiB }),
  ];
  const r = scheduleBatch({ nodes, tasks: existing }, pending);
  // cache: b takes one (a has 1 GiB left), then b takes the second (2 GiB left); web: a then nothing fits
  assert.deepEqual(Object.fromEntries(r.assignments), { 'cache.1': 'b', 'cache.2': 'b', 'web.1': 'a' });
  assert.deepEqual(Object.fromEntries(r.unschedulable), {
    'web.2': 'no suitable node (2 nodes have insufficient resources)',
  });
});

test('drain and pause take no new tasks; all unavailable gives the reason', () => {
  const nodes = [node('a', { availability: 'drain' }), node('b', { availability: 'pause' }), node('c')];
  const r = scheduleBatch({ nodes, tasks: [] }, replicas('web', 3));
  assert.deepEqual(perNode(r.assignments), { c: 3 });
  const none = scheduleBatch({ nodes: nodes.slice(0, 2), tasks: [] }, replicas('web', 1));
  assert.equal(none.unschedulable.get('web.1'), 'no suitable node (2 nodes not available for new tasks)');
  const down = scheduleBatch({ nodes: [node('d', { state: 'down' })], tasks: [] }, replicas('web', 1));
  assert.equal(down.unschedulable.get('web.1'), 'no suitable node (1 node not available for new tasks)');
});

test('constraints combined with resources and availability; reasons add up per node', () => {
  const nodes = [
    node('m1', { role: 'manager', labels: { zone: 'eu' } }),
    node('w1', { labels: { zone: 'eu' } }),
    node('w2', { labels: { zone: 'eu' }, cpus: 1 }),
    node('w3', { labels: { zone: 'us' } }),
    node('w4', { labels: { zone: 'eu' }, state: 'down' }),
  ];
  const r = scheduleBatch(
    { nodes, tasks: [] },
    replicas('api', 3, { cpus: 2, constraints: ['node.role==worker', 'node.labels.zone==eu'] }),
  );
  assert.deepEqual(perNode(r.assignments), { w1: 2 });
  assert.equal(
    r.unschedulable.get('api.3'),
    'no suitable node (1 node not available for new tasks; 2 nodes have insufficient resources; ' +
      'scheduling constraints not satisfied on 2 nodes)',
  );
});

test('an invalid constraint in a task spec makes its tasks unschedulable with the parse error', () => {
  const r = scheduleBatch(
    { nodes: nodes3(), tasks: [] },
    replicas('web', 2, { constraints: ['node.colour==red'] }),
  );
  assert.equal(r.assignments.size, 0);
  assert.match(r.unschedulable.get('web.2')!, /^invalid constraint "node.colour==red": unknown attribute/);
});

test('host ports: one task per node per protocol/port, existing holders included', () => {
  const r = scheduleBatch(
    { nodes: [node('a'), node('b')], tasks: [] },
    replicas('lb', 3, { ports: [hostPort(80)] }),
  );
  assert.deepEqual(perNode(r.assignments), { a: 1, b: 1 });
  assert.equal(r.unschedulable.get('lb.3'), 'no suitable node (host-mode port already in use on 2 nodes)');

  const held = [task('other', 'dns', { nodeId: 'a', ports: [hostPort(80)] })];
  const r2 = scheduleBatch(
    { nodes: [node('a'), node('b')], tasks: held },
    replicas('lb', 1, { ports: [hostPort(80)] }),
  );
  assert.equal(r2.assignments.get('lb.1'), 'b');
  const udp = scheduleBatch(
    { nodes: [node('a')], tasks: held },
    replicas('dns', 1, { ports: [hostPort(80, 'udp')] }),
  );
  assert.equal(udp.assignments.get('dns.1'), 'a');
  const dynamic = scheduleBatch(
    { nodes: [node('a')], tasks: [] },
    replicas('lb', 3, { ports: [hostPort(0)] }),
  );
  assert.equal(dynamic.assignments.size, 3);
});

test('global: a pinned task goes to its own node or nowhere, and goes before replicated tasks', () => {
  const nodes = [
    node('a', { cpus: 2 }),
    node('b', { cpus: 2, availability: 'drain' }),
    node('c', { cpus: 2 }),
  ];
  const pinned = ['a', 'b', 'c', 'gone'].map((n) => task(`mon.${n}`, 'mon', { slot: 0, nodeId: n, cpus: 1 }));
  // replicated tasks sort before 'mon' by service id but must not take the pinned tasks' CPUs
  const r = scheduleBatch({ nodes, tasks: [] }, [...replicas('app', 3, { cpus: 1 }), ...pinned]);
  assert.equal(r.assignments.get('mon.a'), 'a');
  assert.equal(r.assignments.get('mon.c'), 'c');
  assert.equal(r.unschedulable.get('mon.b'), 'no suitable node (1 node not available for new tasks)');
  assert.equal(r.unschedulable.get('mon.gone'), 'no suitable node (node gone is not in the swarm)');
  assert.deepEqual(
    ['app.1', 'app.2', 'app.3'].map((id) => r.assignments.get(id) ?? r.unschedulable.get(id)),
    ['a', 'c', 'no suitable node (1 node not available for new tasks; 2 nodes have insufficient resources)'],
  );
  const constrained = scheduleBatch({ nodes, tasks: [] }, [
    task('g.a', 'g', { slot: 0, nodeId: 'a', constraints: ['node.labels.gpu==yes'] }),
  ]);
  assert.equal(
    constrained.unschedulable.get('g.a'),
    'no suitable node (scheduling constraints not satisfied on 1 node)',
  );
});

test('determinism: input order and repetition do not change the placement', () => {
  const nodes = Array.from({ length: 7 }, (_, i) =>
    node(`n${i}`, { cpus: 3, labels: { rack: `r${i % 3}` } }),
  );
  const pending = [
    ...replicas('a', 9, { cpus: 1 }),
    ...replicas('b', 5, { constraints: ['node.labels.rack!=r0'] }),
    ...replicas('c', 6, { ports: [hostPort(443)] }),
  ];
  const first = scheduleBatch({ nodes, tasks: [] }, pending);
  const shuffled = [...pending].sort((x, y) =>
    x.id.split('').reverse().join() < y.id.split('').reverse().join() ? -1 : 1,
  );
  for (const input of [pending, shuffled, [...pending].reverse()]) {
    const again = scheduleBatch({ nodes: [...nodes].reverse(), tasks: [] }, input);
    assert.deepEqual(Object.fromEntries(again.assignments), Object.fromEntries(first.assignments));
    assert.deepEqual(Object.fromEntries(again.unschedulable), Object.fromEntries(first.unschedulable));
  }
});

test('scale: 10,000 replicas on 1,000 nodes land exactly 10 per node', () => {
  const nodes = Array.from({ length: 1000 }, (_, i) => node(`node-${String(i).padStart(4, '0')}`));
  const r = scheduleBatch({ nodes, tasks: [] }, replicas('big', 10_000));
  const counts = Object.values(perNode(r.assignments));
  assert.equal(counts.length, 1000);
  assert.ok(counts.every((c) => c === 10));
});

test('admission: a node is given at most maxTasksPerNode tasks; the rest stay pending with the reason', () => {
  // Issue 18, fault 1: tasks that reserve nothing all fit everywhere, and a worker started hundreds.
  const existing = [task('old', 'db', { nodeId: 'a' })];
  const r = scheduleBatch(
    { nodes: [node('a'), node('b')], tasks: existing, maxTasksPerNode: 3 },
    replicas('web', 8),
  );
  assert.deepEqual(perNode(r.assignments), { a: 2, b: 3 });
  assert.equal(r.unschedulable.size, 3);
  assert.deepEqual(
    new Set(r.unschedulable.values()),
    new Set(['no suitable node (2 nodes are at the task limit per node)']),
  );
  // Without a limit (as before), all eight are placed.
  assert.equal(
    scheduleBatch({ nodes: [node('a'), node('b')], tasks: existing }, replicas('web', 8)).assignments.size,
    8,
  );
});
