// Services: published ports (explicit, dynamic, host mode) and VIPs per network.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocateNetwork, releaseNetwork } from './networks.js';
import { validatePortSpecs } from './ports.js';
import { allocateService, checkServicePorts, releaseService } from './services.js';
import { AllocatorState } from './state.js';
import { failure, ingress, network, port, service, value } from './test-fixtures.js';

function clusterWithIngress(): AllocatorState {
  const state = new AllocatorState();
  value(allocateNetwork(state, ingress()));
  return state;
}

const published = (state: AllocatorState, id: string, ports: ReturnType<typeof port>[]) =>
  value(allocateService(state, service(id, id, { ports }))).ports.map(
    (p) => `${p.publishedPort}/${p.protocol}`,
  );

describe('validatePortSpecs', () => {
  const cases: [string, Parameters<typeof validatePortSpecs>[0], 'vip' | 'dnsrr', RegExp | undefined][] = [
    ['explicit and dynamic', [port(5000), port(0, 81)], 'vip', undefined],
    ['same number, tcp and udp', [port(53, 53, 'tcp'), port(53, 53, 'udp')], 'vip', undefined],
    [
      'duplicate published port',
      [port(5000, 80), port(5000, 81)],
      'vip',
      /port 5000\/tcp is published more than once/,
    ],
    ['duplicate across modes', [port(5000, 80), port(5000, 81, 'tcp', 'host')], 'vip', /more than once/],
    ['target port 0', [port(5000, 0)], 'vip', /target port 0/],
    ['published port too large', [port(70000)], 'vip', /published port 70000/],
    ['bad protocol', [{ ...port(1), protocol: 'sctp' as 'tcp' }], 'vip', /protocol "sctp"/],
    ['bad mode', [{ ...port(1), publishMode: 'mesh' as 'host' }], 'vip', /publish mode "mesh"/],
    ['ingress with dnsrr', [port(5000)], 'dnsrr', /dnsrr service cannot use/],
    ['host with dnsrr', [port(5000, 80, 'tcp', 'host')], 'dnsrr', undefined],
    ['client address preserved', [{ ...port(5000), preserveClientAddress: true }], 'vip', undefined],
    [
      'masquerade stated',
      [{ ...port(5000, 80, 'tcp', 'host'), preserveClientAddress: false }],
      'vip',
      undefined,
    ],
    [
      'client address preserved in host mode',
      [{ ...port(5000, 80, 'tcp', 'host'), preserveClientAddress: true }],
      'vip',
      /port 5000\/tcp is published in host mode.*client address preservation is for ingress mode/,
    ],
    [
      'preserve not a boolean',
      [{ ...port(5000), preserveClientAddress: 'yes' as unknown as boolean }],
      'vip',
      /preserveClientAddress must be true or false/,
    ],
    [
      'idle timeout bounds',
      [
        { ...port(1), idleTimeoutSeconds: 1 },
        { ...port(2), idleTimeoutSeconds: 2_073_600 },
      ],
      'vip',
      undefined,
    ],
    [
      'idle timeout on host mode',
      [{ ...port(1, 80, 'udp', 'host'), idleTimeoutSeconds: 60 }],
      'vip',
      undefined,
    ],
    [
      'idle timeout 0',
      [{ ...port(5000), idleTimeoutSeconds: 0 }],
      'vip',
      /port 5000\/tcp: idle timeout 0 is not/,
    ],
    [
      'idle timeout too long',
      [{ ...port(5000), idleTimeoutSeconds: 2_073_601 }],
      'vip',
      /between 1 and 2073600/,
    ],
    ['idle timeout fractional', [{ ...port(5000), idleTimeoutSeconds: 1.5 }], 'vip', /idle timeout 1.5/],
  ];
  for (const [name, ports, mode, want] of cases) {
    it(name, () => {
      const problem = validatePortSpecs(ports, mode);
      if (want) assert.match(problem ?? '(accepted)', want);
      else assert.equal(problem, undefined);
    });
  }
});

describe('allocateService: published ports', () => {
  it('refuses an explicit port another service publishes, naming it', () => {
    const state = clusterWithIngress();
    published(state, 'web', [port(5000)]);
    const r = failure(allocateService(state, service('api', 'api', { ports: [port(5000, 8080)] })));
    assert.deepEqual(r, { kind: 'conflict', message: 'port 5000/tcp is already published by service web' });
    assert.deepEqual(
      failure(checkServicePorts(state, service('api', 'api', { ports: [port(5000, 8080)] }))),
      r,
    );
    assert.equal(state.services.has('api'), false);
  });

  it("copies each port's mesh options to the endpoint, dynamic ports included, and follows updates", () => {
    const state = clusterWithIngress();
    const asked = [
      { ...port(5000), preserveClientAddress: true, idleTimeoutSeconds: 7200 },
      { ...port(0, 53, 'udp'), idleTimeoutSeconds: 60 },
      port(0, 81),
    ];
    const first = value(allocateService(state, service('web', 'web', { ports: asked })));
    assert.deepEqual(first.ports, [
      { ...asked[0]!, publishedPort: 5000 },
      { ...asked[1]!, publishedPort: 30000 },
      { ...asked[2]!, publishedPort: 30000 },
    ]);
    // An update that changes only the options keeps the numbers and carries the new options.
    const changed = [{ ...port(5000), idleTimeoutSeconds: 60 }, port(0, 53, 'udp'), port(0, 81)];
    const again = value(allocateService(state, service('web', 'web', { ports: changed })));
    assert.deepEqual(again.ports, [
      { ...changed[0]!, publishedPort: 5000 },
      { ...changed[1]!, publishedPort: 30000 },
      { ...changed[2]!, publishedPort: 30000 },
    ]);
    // and a bad option is refused before anything is held
    const bad = [{ ...port(6000, 80, 'tcp', 'host'), preserveClientAddress: true }];
    assert.equal(failure(allocateService(state, service('api', 'api', { ports: bad }))).kind, 'invalid');
    assert.equal(state.services.has('api'), false);
  });

  it('lets a service re-check its own ports on update', () => {
    const state = clusterWithIngress();
    published(state, 'web', [port(5000)]);
    assert.equal(checkServicePorts(state, service('web', 'web', { ports: [port(5000, 8080)] })).ok, true);
    assert.equal(
      failure(checkServicePorts(state, service('web', 'web', { ports: [port(5000, 0)] }))).kind,
      'invalid',
    );
  });

  it('keeps tcp and udp independent', () => {
    const state = clusterWithIngress();
    assert.deepEqual(published(state, 'dns-tcp', [port(53, 53, 'tcp')]), ['53/tcp']);
    assert.deepEqual(published(state, 'dns-udp', [port(53, 53, 'udp')]), ['53/udp']);
    assert.deepEqual(published(state, 'dyn', [port(0, 1, 'tcp'), port(0, 1, 'udp')]), [
      '30000/tcp',
      '30000/udp',
    ]);
  });

  it('gives dynamic ports lowest free from 30000, skipping explicit ones, reusing released ones', () => {
    const state = clusterWithIngress();
    assert.deepEqual(published(state, 'a', [port(30000), port(0, 81)]), ['30000/tcp', '30001/tcp']);
    assert.deepEqual(published(state, 'b', [port(0), port(0, 81)]), ['30002/tcp', '30003/tcp']);
    value(releaseService(state, 'a'));
    assert.deepEqual(published(state, 'c', [port(0), port(0, 81), port(0, 82)]), [
      '30000/tcp',
      '30001/tcp',
      '30004/tcp',
    ]);
  });

  it('reports the dynamic range exhausted, and holds nothing', () => {
    const state = clusterWithIngress();
    const all = Array.from({ length: 32767 - 30000 + 1 }, (_, i) => port(0, i + 1));
    assert.equal(published(state, 'hog', all).at(-1), '32767/tcp');
    const r = failure(
      allocateService(state, service('late', 'late', { networks: ['ingress-id'], ports: [port(0)] })),
    );
    assert.deepEqual(r, {
      kind: 'exhausted',
      pool: 'ports 30000-32767/tcp',
      message: 'no free port left in the dynamic range 30000-32767/tcp',
    });
    assert.equal(state.services.has('late'), false);
    assert.deepEqual(published(state, 'udp-still-fine', [port(0, 1, 'udp')]), ['30000/udp']);
  });

  it('does not allocate host-mode ports cluster-wide', () => {
    const state = clusterWithIngress();
    assert.deepEqual(published(state, 'a', [port(8080, 80, 'tcp', 'host'), port(0, 81, 'tcp', 'host')]), [
      '8080/tcp',
      '0/tcp',
    ]);
    assert.deepEqual(published(state, 'b', [port(8080, 80, 'tcp', 'host')]), ['8080/tcp']);
    assert.deepEqual(
      published(state, 'c', [port(8080)]),
      ['8080/tcp'],
      'an ingress port may share a host-mode number',
    );
    assert.equal(
      value(allocateService(state, service('h', 'h', { ports: [port(9, 9, 'tcp', 'host')] }))).virtualIps
        .length,
      0,
    );
  });

  it('keeps ports across an update, frees dropped ones, and takes new ones', () => {
    const state = clusterWithIngress();
    published(state, 'other', [port(0, 1)]); // 30000
    assert.deepEqual(published(state, 'web', [port(5000), port(0, 81)]), ['5000/tcp', '30001/tcp']);
    assert.deepEqual(published(state, 'web', [port(0, 81), port(6000)]), ['30001/tcp', '6000/tcp']);
    assert.deepEqual(published(state, 'x', [port(5000)]), ['5000/tcp'], '5000 was freed by the update');
    assert.equal(
      failure(allocateService(state, service('y', 'y', { ports: [port(6000)] }))).kind,
      'conflict',
    );
  });

  it('rejects invalid ports as invalid', () => {
    assert.equal(
      failure(allocateService(clusterWithIngress(), service('a', 'a', { ports: [port(5000, 0)] }))).kind,
      'invalid',
    );
  });
});

describe('allocateService: VIPs', () => {
  it('gives one VIP per attached network, plus ingress when it publishes in ingress mode', () => {
    const state = clusterWithIngress();
    value(allocateNetwork(state, network('n1', 'front')));
    value(
      allocateNetwork(
        state,
        network('n2', 'back', { ipam: [{ subnet: '192.168.9.0/24', gateway: '192.168.9.254' }] }),
      ),
    );
    const web = value(
      allocateService(state, service('web', 'web', { networks: ['n1', 'n2'], ports: [port(5000)] })),
    );
    assert.deepEqual(web.virtualIps, [
      { networkId: 'n1', addr: '10.0.0.2/24' },
      { networkId: 'n2', addr: '192.168.9.1/24' },
      { networkId: 'ingress-id', addr: '10.255.0.2/16' },
    ]);
    const api = value(allocateService(state, service('api', 'api', { networks: ['n1'] })));
    assert.deepEqual(api.virtualIps, [{ networkId: 'n1', addr: '10.0.0.3/24' }]);
    const dnsrr = value(
      allocateService(state, service('d', 'd', { networks: ['n1'], endpointMode: 'dnsrr' })),
    );
    assert.deepEqual(dnsrr.virtualIps, []);
  });

  it('keeps VIPs on networks it stays on and frees the others on update', () => {
    const state = clusterWithIngress();
    value(allocateNetwork(state, network('n1')));
    value(allocateNetwork(state, network('n2')));
    const before = value(
      allocateService(state, service('web', 'web', { networks: ['n1', 'n2'] })),
    ).virtualIps;
    const after = value(allocateService(state, service('web', 'web', { networks: ['n2'] }))).virtualIps;
    assert.deepEqual(after, [before[1]]);
    assert.equal(value(releaseNetwork(state, 'n1')), undefined, 'n1 no longer in use');
    assert.equal(failure(releaseNetwork(state, 'n2')).kind, 'in-use');
  });

  it('fails on an unallocated network or a missing ingress network', () => {
    const state = new AllocatorState();
    assert.equal(failure(allocateService(state, service('a', 'a', { networks: ['nope'] }))).kind, 'missing');
    assert.match(
      failure(allocateService(state, service('a', 'a', { ports: [port(80)] }))).message,
      /no ingress network/,
    );
  });

  it('names the exhausted pool and releases VIPs taken before the failure', () => {
    const state = clusterWithIngress();
    value(allocateNetwork(state, network('big')));
    value(allocateNetwork(state, network('tiny', 'tiny', { ipam: [{ subnet: '192.168.5.0/30' }] })));
    value(allocateService(state, service('first', 'first', { networks: ['tiny'] }))); // takes 192.168.5.2, the only one
    const r = failure(allocateService(state, service('second', 'second', { networks: ['big', 'tiny'] })));
    assert.deepEqual(r, {
      kind: 'exhausted',
      pool: '192.168.5.0/30',
      message: 'address pool 192.168.5.0/30 of network tiny is exhausted',
    });
    const again = value(allocateService(state, service('third', 'third', { networks: ['big'] })));
    assert.deepEqual(
      again.virtualIps,
      [{ networkId: 'big', addr: '10.0.0.2/24' }],
      'the VIP taken on big was released',
    );
  });
});
