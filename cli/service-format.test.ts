import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCreateSpec } from './service-spec.js';
import { nodes, T0, wireService, wireTask } from './service-fixtures.js';
import {
  formatDuration,
  humanDuration,
  renderServicePretty,
  renderServiceTable,
  renderTaskTable,
} from './service-format.js';

test('service ls: docker columns, running/desired, ingress ports as *:P->T/proto, sorted by name', () => {
  const web = wireService({
    id: 'aaaaaaaaaaaaaaaaaaaaaaaaa',
    spec: buildCreateSpec('host', [], { name: 'web', replicas: '3', publish: ['5000:80', '53/udp'] }, {}),
    endpoint: {
      ports: [
        { protocol: 'tcp', targetPort: 80, publishedPort: 5000, publishMode: 'ingress' },
        { protocol: 'udp', targetPort: 53, publishedPort: 30000, publishMode: 'ingress' },
      ],
      virtualIps: [],
    },
  });
  const agent = wireService({
    id: 'bbbbbbbbbbbbbbbbbbbbbbbbb',
    spec: buildCreateSpec('img:1', [], { name: 'agent', mode: 'global' }, {}),
  });
  const table = renderServiceTable(
    [
      { service: web, running: 2, desired: 3 },
      { service: agent, running: 4, desired: 4 },
    ],
    false,
  );
  assert.equal(
    table,
    [
      'ID             NAME    MODE         REPLICAS   IMAGE   PORTS',
      'bbbbbbbbbbbb   agent   global       4/4        img:1',
      'aaaaaaaaaaaa   web     replicated   2/3        host    *:5000->80/tcp, *:30000->53/udp',
    ].join('\n'),
  );
  assert.equal(renderServiceTable([{ service: web, running: 2, desired: 3 }], true), 'aaaaaaaaaaaa');
});

test("humanDuration is docker's", () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1_000), '1 second');
  assert.equal(humanDuration(5_400), '5 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(12 * 60_000), '12 minutes');
  assert.equal(humanDuration(70 * 60_000), 'About an hour');
  assert.equal(humanDuration(5 * 3_600_000), '5 hours');
  assert.equal(humanDuration(3 * 86_400_000), '3 days');
  assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
  assert.equal(humanDuration(90 * 86_400_000), '3 months');
  assert.equal(humanDuration(800 * 86_400_000), '2 years');
});

test('service ps: newest task per slot first, history as \\_ rows, hostnames, quoted truncated errors', () => {
  const s = wireService();
  const err = 'task: non-zero exit (1): the process was killed by the OOM killer';
  const tasks = [
    wireTask(s, {
      id: 'old1aaaaaaaaaaaaaaaaaaaaa',
      slot: 1,
      state: 'failed',
      desired: 'shutdown',
      err,
      createdAt: T0,
    }),
    wireTask(s, { id: 'new1aaaaaaaaaaaaaaaaaaaaa', slot: 1, createdAt: T0 + 1000, statusAt: T0 + 2000 }),
    wireTask(s, {
      id: 'new2aaaaaaaaaaaaaaaaaaaaa',
      slot: 2,
      nodeId: '',
      state: 'pending',
      err: 'no suitable node',
      statusAt: T0 + 3000,
    }),
  ];
  const hostPort = { protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 'host' };
  tasks[1]!.endpoint = {
    ports: [{ ...hostPort, preserveClientAddress: false, idleTimeoutSeconds: 0 }],
    virtualIps: [],
  };
  const now = T0 + 7000;
  assert.equal(
    renderTaskTable(tasks, nodes, now, { noTrunc: false, quiet: false }),
    [
      'ID             NAME        IMAGE   NODE    DESIRED STATE   CURRENT STATE           ERROR                              PORTS',
      'new1aaaaaaaa   web.1       host    alpha   Running         Running 5 seconds ago                                      *:8080->80/tcp',
      'old1aaaaaaaa    \\_ web.1   host    alpha   Shutdown        Failed 7 seconds ago    "task: non-zero exit (1): the …"',
      'new2aaaaaaaa   web.2       host            Running         Pending 4 seconds ago   "no suitable node"',
    ].join('\n'),
  );
  const full = renderTaskTable(tasks, nodes, now, { noTrunc: true, quiet: false });
  assert.ok(full.includes(JSON.stringify(err)));
  assert.ok(full.includes('old1aaaaaaaaaaaaaaaaaaaaa'));
  assert.equal(
    renderTaskTable(tasks, nodes, now, { noTrunc: false, quiet: true }),
    'new1aaaaaaaa\nold1aaaaaaaa\nnew2aaaaaaaa',
  );
});

test('global tasks are named service.<node id> and grouped per node', () => {
  const s = wireService({ spec: buildCreateSpec('host', [], { name: 'agent', mode: 'global' }, {}) });
  const tasks = [
    wireTask(s, { id: 'g2xxxxxxxxxxxxxxxxxxxxxxx', slot: 0, nodeId: 'node2' }),
    wireTask(s, { id: 'g1xxxxxxxxxxxxxxxxxxxxxxx', slot: 0, nodeId: 'node1' }),
  ];
  const rows = renderTaskTable(tasks, nodes, T0, { noTrunc: false, quiet: false }).split('\n').slice(1);
  assert.deepEqual(
    rows.map((r) => r.split(/\s{3,}/).slice(1, 4)),
    [
      ['agent.node1', 'host', 'alpha'],
      ['agent.node2', 'host', 'beta'],
    ],
  );
});

test('durations print as Go prints them', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(500), '500ms');
  assert.equal(formatDuration(5_000), '5s');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(3_600_000), '1h0m0s');
});

test('service inspect --pretty: the docker-like block', () => {
  const s = wireService({
    id: 'svc1',
    spec: buildCreateSpec(
      'host',
      ['sleep', '9'],
      {
        name: 'web',
        replicas: '2',
        network: ['n1'],
        publish: ['5000:80', 'published=6000,target=81,client-address=preserve,idle-timeout=1h'],
        limitMemory: '512m',
        reserveCpu: '0.5',
        env: ['A=1'],
        constraint: ['node.role==worker'],
      },
      {},
    ),
  });
  assert.equal(
    renderServicePretty(s, new Map([['n1', 'front']])),
    [
      'ID:\t\tsvc1',
      'Name:\t\tweb',
      'Service Mode:\tReplicated',
      ' Replicas:\t2',
      'Placement:',
      ' Constraints:\t[node.role==worker]',
      'UpdateConfig:',
      ' Parallelism:\t1',
      ' On failure:\tpause',
      ' Monitoring Period: 5s',
      ' Max failure ratio: 0',
      ' Update order:      stop-first',
      'RollbackConfig:',
      ' Parallelism:\t1',
      ' On failure:\tpause',
      ' Monitoring Period: 5s',
      ' Max failure ratio: 0',
      ' Update order:      stop-first',
      'ContainerSpec:',
      ' Image:\t\thost',
      ' Args:\t\tsleep 9 ',
      ' Env:\t\tA=1',
      ' StopGracePeriod: 10s',
      'Resources:',
      ' Reservations:',
      '  CPU:\t\t0.5',
      ' Limits:',
      '  Memory:\t512MiB',
      'Networks:\tfront ',
      'Endpoint Mode:\tvip',
      'Ports:',
      ' PublishedPort = 5000',
      '  Protocol = tcp',
      '  TargetPort = 80',
      '  PublishMode = ingress',
      ' PublishedPort = 6000',
      '  Protocol = tcp',
      '  TargetPort = 81',
      '  PublishMode = ingress',
      '  ClientAddress = preserve',
      '  IdleTimeout = 1h0m0s',
    ].join('\n'),
  );
});
