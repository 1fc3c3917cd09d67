// Rebuilding the state from the store's objects: a new leader must hold what the old one held and
// answer the next allocation exactly as the old one would have.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Network, Service, Task } from '../../api/objects/index.js';
import { defaultClusterSpec } from '../../api/objects/index.js';
import { allocateNetwork } from './networks.js';
import { allocatorStateFrom } from './restore.js';
import { allocateService } from './services.js';
import { AllocatorState } from './state.js';
import { allocateTask, releaseTask } from './tasks.js';
import { failure, ingress, network, port, service, task, value } from './test-fixtures.js';

/** A small cluster allocated live, with every result written back into its object as the orchestrator would. */
function liveCluster() {
  const cluster = { spec: { ...defaultClusterSpec(), defaultAddrPool: ['10.0.0.0/8'], subnetSize: 24 } };
  const state = new AllocatorState(cluster.spec);
  const networks: Network[] = [
    network('n-app', 'appnet'),
    ingress(),
    network('n-user', 'user', { ipam: [{ subnet: '10.0.1.0/29' }] }),
  ];
  for (const n of networks) Object.assign(n, value(allocateNetwork(state, n)));
  const services: Service[] = [
    service('s-web', 'web', { networks: ['n-app', 'n-user'], ports: [port(5000), port(0, 81)] }),
    service('s-api', 'api', { networks: ['n-app'], ports: [port(0, 9090, 'udp')] }),
  ];
  for (const s of services) s.endpoint = value(allocateService(state, s));
  const tasks: Task[] = [];
  for (const [i, s] of [services[0], services[0], services[1], services[0]].entries()) {
    const t = task(`t${i}`, s, i + 1);
    t.networks = value(allocateTask(state, t, s));
    tasks.push(t);
  }
  // t1 finished: the orchestrator released it, but its object still records the addresses.
  value(releaseTask(state, 't1'));
  tasks[1].status.state = 'complete';
  return { cluster, state, networks, services, tasks };
}

describe('allocatorStateFrom', () => {
  it('rebuilds a state that answers every next allocation as the live one does', () => {
    const live = liveCluster();
    const { state: rebuilt, problems } = allocatorStateFrom(live);
    assert.deepEqual(problems, []);
    const web = live.services[0];
    const steps: [string, (s: AllocatorState) => unknown][] = [
      ['same network back', (s) => allocateNetwork(s, live.networks[0])],
      ['same service back', (s) => allocateService(s, web)],
      ['same task back', (s) => allocateTask(s, live.tasks[0], web)],
      ['next network', (s) => allocateNetwork(s, network('n-new', 'new'))],
      [
        'next service',
        (s) =>
          allocateService(
            s,
            service('s-new', 'new', { networks: ['n-app'], ports: [port(0), port(0, 1, 'udp')] }),
          ),
      ],
      ['conflicting port', (s) => allocateService(s, service('s-x', 'x', { ports: [port(5000)] }))],
      ['task reusing the finished task address', (s) => allocateTask(s, task('t-new', web), web)],
      ['last address of the tiny user network', (s) => allocateTask(s, task('t-new2', web), web)],
      ['tiny user network exhausted', (s) => allocateTask(s, task('t-new3', web), web)],
      [
        'web updated keeps its dynamic port',
        (s) =>
          allocateService(s, {
            ...web,
            spec: { ...web.spec, endpoint: { mode: 'vip', ports: [port(0, 81)] } },
          }),
      ],
    ];
    const answers = steps.map(([name, step]) => {
      const answer = step(live.state);
      assert.deepEqual(step(rebuilt), answer, name);
      return answer;
    });
    // The steps are not vacuous: some fail, and the update keeps the dynamic port chosen at first.
    assert.match(JSON.stringify(answers[5]), /already published by service web/);
    assert.match(JSON.stringify(answers[8]), /address pool 10.0.1.0\/29 of network user is exhausted/);
    assert.deepEqual(JSON.stringify(answers[9]).match(/"publishedPort":\d+/g), ['"publishedPort":30000']);
  });

  it('is idempotent: two rebuilds from the same objects answer alike', () => {
    const live = liveCluster();
    const a = allocatorStateFrom(live).state;
    const b = allocatorStateFrom(live).state;
    for (let i = 0; i < 3; i++) {
      const svc = live.services[1];
      assert.deepEqual(allocateTask(a, task(`x${i}`, svc), svc), allocateTask(b, task(`x${i}`, svc), svc));
    }
    assert.deepEqual([...a.vnis].sort(), [4096, 4097, 4098]);
    assert.equal(a.ingressNetwork()?.name, 'ingress');
  });

  it('reports objects that claim the same resources instead of holding them twice', () => {
    const live = liveCluster();
    const dupTask = { ...live.tasks[0], id: 'z-dup' };
    const dupService = { ...live.services[0], id: 's-zz', spec: { ...live.services[0].spec, name: 'web2' } };
    const dupNetwork = {
      ...live.networks[0],
      id: 'n-zz',
      spec: { ...live.networks[0].spec, name: 'appnet2' },
    };
    const { state, problems } = allocatorStateFrom({
      ...live,
      networks: [...live.networks, dupNetwork],
      services: [...live.services, dupService],
      tasks: [...live.tasks, dupTask],
    });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0], /network appnet2: VNI 4097 is held twice/);
    assert.match(problems[1], /service web2: port 5000\/tcp is held twice/);
    assert.match(problems[2], /task z-dup: address 10.0.0.4\/24: address is already held on network appnet/);
    assert.equal(state.tasks.has('z-dup'), false);
    assert.equal(state.tasks.has('t0'), true, 'the first claimant (by id) keeps it');
  });

  it('keeps a dynamic port across a rebuild only where the spec still asks for it', () => {
    const live = liveCluster();
    const web = live.services[0]; // ports [5000, 0->30000]; its spec now changed, not yet re-allocated
    web.spec = { ...web.spec, endpoint: { mode: 'vip', ports: [port(0, 80), port(0, 81)] } };
    const { state } = allocatorStateFrom(live);
    const ports = value(allocateService(state, web)).ports.map((p) => p.publishedPort);
    // 30000 (dynamic range, target 81) stays; 5000 was explicit, so target 80 gets a new dynamic port.
    assert.deepEqual(ports, [30001, 30000]);
    assert.deepEqual(value(allocateService(live.state, web)).ports, value(allocateService(state, web)).ports);
  });

  it('leaves unallocated objects for the allocator, and uses the cluster pool when it carves', () => {
    const { state, problems } = allocatorStateFrom({
      cluster: { spec: { ...defaultClusterSpec(), defaultAddrPool: ['172.30.0.0/16'], subnetSize: 25 } },
      networks: [network('n')],
      services: [service('s', 's', { networks: ['n'] })],
      tasks: [],
    });
    assert.deepEqual(problems, []);
    assert.equal(state.networks.size, 0);
    assert.equal(value(allocateNetwork(state, network('n'))).ipam[0].subnet, '172.30.0.0/25');
    assert.equal(
      failure(allocateTask(state, task('t', service('s2', 's2', { networks: ['gone'] })))).kind,
      'missing',
    );
  });
});
