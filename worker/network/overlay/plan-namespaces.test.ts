// The endpoint namespaces the driver makes itself (the ingress sandbox): given what the kernel has and
// what is desired, the commands planned before the legs (make) and after them (remove).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCommand } from './commands.js';
import { isOwnNamespaceName, ownNamespaceName } from './names.js';
import { planOwnNamespaces } from './plan-namespaces.js';
import type { LocalTask, ObservedOwnNamespace, OverlayDesiredState, Step } from './types.js';

const ctx = { prefix: 'swl', nodeNetnsPath: '/proc/1/ns/net' };
const NS = 'swl_ingress_sbox';

const sandbox = (over: Partial<LocalTask> = {}): LocalTask => ({
  taskId: 'ingress-sbox',
  netnsPath: `/run/netns/${NS}`,
  ownNamespace: NS,
  attachments: [{ networkId: 'ingress', address: '10.255.0.2/16' }],
  gatewayAddress: '172.18.0.2/16',
  ...over,
});

const desired = (tasks: LocalTask[], over: Partial<OverlayDesiredState> = {}): OverlayDesiredState => ({
  vtep: '198.18.0.11',
  networks: [
    {
      id: 'ingress',
      vni: 4096,
      subnets: [{ subnet: '10.255.0.0/16', gateway: '10.255.0.1' }],
      internal: false,
    },
  ],
  tasks,
  peers: [],
  ...over,
});

const lines = (steps: Step[]) => steps.flatMap((s) => s.commands.map((c) => describeCommand(c)));
const observed = (over: Partial<ObservedOwnNamespace> = {}): ObservedOwnNamespace[] => [
  { name: NS, loUp: true, forwarding: true, ...over },
];

test('names: <prefix>_<tag>_sbox, told apart from network sandboxes, task namespaces and other prefixes', () => {
  assert.equal(ownNamespaceName('swl', 'ingress'), NS);
  assert.throws(() => ownNamespaceName('swl', 'In_gress'), RangeError);
  assert.equal(isOwnNamespaceName('swl', NS), true);
  for (const other of ['swl_ov-4096', 'swl2_ingress_sbox', 'swlt0123456789ab', 'swl_gwbridge', 'swl__sbox'])
    assert.equal(isOwnNamespaceName('swl', other), false, other);
});

const cases: {
  name: string;
  desired: OverlayDesiredState;
  observed: ObservedOwnNamespace[];
  make: string[];
  remove: string[];
}[] = [
  {
    name: 'a new sandbox is made, lo up and forwarding on, before its legs',
    desired: desired([sandbox()]),
    observed: [],
    make: [
      `ip netns add ${NS}`,
      `ip -n ${NS} link set lo up`,
      `ip netns exec ${NS} sysctl -q -w net.ipv4.ip_forward=1`,
    ],
    remove: [],
  },
  {
    name: 'a sandbox as wanted (a second sync, or a restarted daemon) plans nothing',
    desired: desired([sandbox()]),
    observed: observed(),
    make: [],
    remove: [],
  },
  {
    name: 'an interrupted make is finished, not repeated',
    desired: desired([sandbox()]),
    observed: observed({ loUp: false, forwarding: false }),
    make: [`ip -n ${NS} link set lo up`, `ip netns exec ${NS} sysctl -q -w net.ipv4.ip_forward=1`],
    remove: [],
  },
  {
    name: 'one no endpoint names is removed, after the legs',
    desired: desired([]),
    observed: observed(),
    make: [],
    remove: [`ip netns del ${NS}`],
  },
  {
    name: 'while a restarted daemon re-adopts, one not named yet stays',
    desired: desired([], { adopting: { detached: [] } }),
    observed: observed(),
    make: [],
    remove: [],
  },
  {
    name: 'task namespaces are the runtime’s: an endpoint without ownNamespace plans nothing',
    desired: desired([{ taskId: 't1', netnsPath: '/run/netns/swlt1', attachments: [] }]),
    observed: [],
    make: [],
    remove: [],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const plan = planOwnNamespaces(ctx, c.desired, c.observed);
    assert.deepEqual(lines(plan.make), c.make);
    assert.deepEqual(lines(plan.remove), c.remove);
  });
}

test('a name this prefix does not own, or a path that is not the name’s, is refused', () => {
  for (const bad of [
    sandbox({ ownNamespace: 'swl_ov-4096', netnsPath: '/run/netns/swl_ov-4096' }),
    sandbox({ ownNamespace: 'other_ingress_sbox', netnsPath: '/run/netns/other_ingress_sbox' }),
    sandbox({ netnsPath: '/run/netns/swlt1' }),
  ])
    assert.throws(() => planOwnNamespaces(ctx, desired([bad]), []), RangeError, JSON.stringify(bad));
});
