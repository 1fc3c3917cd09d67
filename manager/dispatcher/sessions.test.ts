// Table tests of the dispatcher's session logic: from a snapshot of the store and a sequence of
// events (leadership, registrations, beats, store changes, the clock), the actions planned for each.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from '../../api/objects/index.js';
import { newGossipKey } from '../keymanager.js';
import {
  sampleCluster,
  sampleManager,
  sampleNetwork,
  sampleNode,
  sampleTask,
} from '../store/test-fixtures.js';
import {
  DispatcherSessions,
  encryptedOverlayNodes,
  type DispatcherAction,
  type SessionSnapshot,
} from './sessions.js';

const meta = { version: 1, createdAt: '', updatedAt: '' };
const node = (id: string, over: Partial<Node> = {}): Node => ({ ...sampleNode(id), meta, ...over });
const manager = (id: string, raftId: number): Node => ({ ...sampleManager(id, raftId), meta });
const gossipKey = newGossipKey(1);
const snapshot = (nodes: Node[]): SessionSnapshot => ({
  nodes,
  clusters: [{ ...sampleCluster('c1'), meta, encryptionKeys: [gossipKey] }],
  serviceNames: [],
  networks: [],
  encryptedNodes: new Set(),
});

type Event =
  | { lead: Node[]; at: number }
  | { register: string; session: string; at: number }
  | { beat: string; session: string; at: number }
  | { closed: string; session: string }
  | { expire: number }
  | { markDownFailed: string[]; at: number }
  | { store: Node[] }
  | 'unlead';

/** What a test compares of an action: a session message by who it goes to and what it says of roles. */
type Seen =
  | { send: string; session: string; managers: string[]; role: string; spec: string }
  | Exclude<DispatcherAction, { type: 'send' }>
  | { beat: boolean };

function seen(a: DispatcherAction): Seen {
  if (a.type !== 'send') return a;
  const m = a.message;
  return {
    send: a.nodeId,
    session: a.sessionId,
    managers: m.managers.map((x) => x.nodeId),
    role: m.node?.role ?? '',
    spec: m.node?.spec?.role ?? '',
  };
}

function run(events: Event[], base: Node[]): Seen[][] {
  const s = new DispatcherSessions();
  let nodes = base;
  return events.map((e): Seen[] => {
    if (e === 'unlead') return s.unlead().map(seen);
    if ('lead' in e) {
      s.lead(e.lead, 1_000, e.at);
      return [];
    }
    if ('register' in e) return s.registered(e.register, e.session, e.at, snapshot(nodes)).map(seen);
    if ('beat' in e) return [{ beat: s.beat(e.beat, e.session, e.at) }];
    if ('closed' in e) {
      s.streamClosed(e.closed, e.session);
      return [];
    }
    if ('expire' in e) return s.expire(e.expire).map(seen);
    if ('markDownFailed' in e) {
      s.markDownFailed(e.markDownFailed, e.at);
      return [];
    }
    nodes = e.store;
    return s.updates(snapshot(nodes)).map(seen);
  });
}

const m1 = manager('m1', 1);
const w1 = node('w1');
const w2 = node('w2');
const base = [m1, w1, w2];
const send = (to: string, session: string, over: Partial<Extract<Seen, { send: string }>> = {}): Seen => ({
  send: to,
  session,
  managers: ['m1'],
  role: 'worker',
  spec: 'worker',
  ...over,
});

const cases: { name: string; nodes?: Node[]; events: Event[]; actions: Seen[][] }[] = [
  {
    name: 'a registration is answered with the session message; a store change nobody acts on sends nothing',
    events: [{ lead: base, at: 0 }, { register: 'w1', session: 's1', at: 10 }, { store: [...base] }],
    actions: [[], [send('w1', 's1')], []],
  },
  {
    name: 'a promotion is sent to the node at once',
    events: [
      { lead: base, at: 0 },
      { register: 'w1', session: 's1', at: 10 },
      { store: [m1, { ...w1, spec: { ...w1.spec, role: 'manager' } }, w2] },
    ],
    actions: [[], [send('w1', 's1')], [send('w1', 's1', { spec: 'manager' })]],
  },
  {
    name: 'a newer session supersedes the older one, whose beats are refused',
    events: [
      { lead: base, at: 0 },
      { register: 'w1', session: 's1', at: 10 },
      { register: 'w1', session: 's2', at: 20 },
      { beat: 'w1', session: 's1', at: 30 },
      { beat: 'w1', session: 's2', at: 30 },
    ],
    actions: [
      [],
      [send('w1', 's1')],
      [{ type: 'end', nodeId: 'w1', sessionId: 's1', reason: 'superseded' }, send('w1', 's2')],
      [{ beat: false }],
      [{ beat: true }],
    ],
  },
  {
    name: 'a new leader gives known nodes 1.5 periods to reconnect; silent ones are marked down, down ones are not watched',
    events: [
      { lead: [m1, w1, { ...w2, status: { ...w2.status, state: 'down' } }], at: 0 },
      { register: 'm1', session: 'sm', at: 100 },
      { expire: 1_499 },
      { expire: 1_500 },
    ],
    actions: [
      [],
      [send('m1', 'sm', { role: 'manager', spec: 'manager' })],
      [],
      [
        { type: 'end', nodeId: 'w1', sessionId: '', reason: 'expired' },
        { type: 'mark-down', nodeIds: ['w1'] },
      ],
    ],
  },
  {
    name: 'a node that stops beating is down after 3 periods; its stream closing alone does not make it down',
    events: [
      { lead: [], at: 0 },
      { register: 'w1', session: 's1', at: 0 },
      { beat: 'w1', session: 's1', at: 1_000 },
      { closed: 'w1', session: 's1' },
      { expire: 3_999 },
      { expire: 4_000 },
    ],
    actions: [
      [],
      [send('w1', 's1')],
      [{ beat: true }],
      [],
      [],
      [
        { type: 'end', nodeId: 'w1', sessionId: '', reason: 'expired' },
        { type: 'mark-down', nodeIds: ['w1'] },
      ],
    ],
  },
  {
    name: 'marking down failed: the node expires again on the next check',
    events: [
      { lead: [], at: 0 },
      { register: 'w1', session: 's1', at: 0 },
      { expire: 3_000 },
      { markDownFailed: ['w1'], at: 3_000 },
      { expire: 3_050 },
    ],
    actions: [
      [],
      [send('w1', 's1')],
      [
        { type: 'end', nodeId: 'w1', sessionId: 's1', reason: 'expired' },
        { type: 'mark-down', nodeIds: ['w1'] },
      ],
      [],
      [
        { type: 'end', nodeId: 'w1', sessionId: '', reason: 'expired' },
        { type: 'mark-down', nodeIds: ['w1'] },
      ],
    ],
  },
  {
    name: 'a removed node loses its session',
    events: [
      { lead: base, at: 0 },
      { register: 'w2', session: 's1', at: 0 },
      { store: [m1, w1, { ...w2, removed: true }] },
      { store: [m1, w1, { ...w2, removed: true }] },
    ],
    actions: [
      [],
      [send('w2', 's1')],
      [{ type: 'end', nodeId: 'w2', sessionId: 's1', reason: 'removed' }],
      [],
    ],
  },
  {
    name: 'leadership lost: everything ends once; nothing is served until leading again',
    events: [
      { lead: base, at: 0 },
      { register: 'w1', session: 's1', at: 0 },
      'unlead',
      'unlead',
      { beat: 'w1', session: 's1', at: 10 },
      { register: 'w1', session: 's2', at: 10 },
      { expire: 100_000 },
    ],
    actions: [[], [send('w1', 's1')], [{ type: 'end-all' }], [], [{ beat: false }], [], []],
  },
];

for (const c of cases) {
  test(`dispatcher sessions: ${c.name}`, () => {
    assert.deepEqual(run(c.events, c.nodes ?? base), c.actions);
  });
}

test('dispatcher sessions: the message names managers leader first, the node, the gossip keys newest first', () => {
  const s = new DispatcherSessions();
  const m2 = { ...manager('m2', 2), managerStatus: { ...manager('m2', 2).managerStatus!, leader: true } };
  const m1f = { ...m1, managerStatus: { ...m1.managerStatus!, leader: false } };
  const snap = snapshot([m1f, m2, w1]);
  snap.clusters = [{ ...snap.clusters[0]!, encryptionKeys: [newGossipKey(1), newGossipKey(2)] }];
  s.lead(snap.nodes, 700, 0);
  const [action] = s.registered('w1', 's1', 0, snap);
  assert.equal(action?.type, 'send');
  const msg = (action as Extract<DispatcherAction, { type: 'send' }>).message;
  assert.deepEqual(
    msg.managers.map((m) => m.nodeId),
    ['m2', 'm1'],
  );
  assert.equal(msg.heartbeatPeriodMs, 700);
  assert.equal(msg.node?.id, 'w1');
  assert.deepEqual(
    msg.networkKeys.map((k) => k.toString('base64')),
    [snap.clusters[0]!.encryptionKeys![1]!.key, snap.clusters[0]!.encryptionKeys![0]!.key],
  );
  assert.equal(msg.ingressNetwork, null);
});

test('the nodes that get overlay IPsec keys: a live task or attachment on an encrypted network', () => {
  const enc = sampleNetwork('enc', 'secure');
  const networks = [
    { ...enc, meta, spec: { ...enc.spec, options: { encrypted: '' } } },
    { ...sampleNetwork('plain', 'plain'), meta },
  ];
  const on = (id: string) => [{ networkId: id, addresses: [] as string[], aliases: [] as string[] }];
  const tasks = [
    sampleTask('t1', 'w1', 'running', { networks: on('enc') }),
    sampleTask('t2', 'w2', 'running', { networks: on('plain') }),
    sampleTask('t3', 'w3', 'failed', { networks: on('enc') }),
    sampleTask('t4', 'w4', 'assigned', { networks: on('enc'), attachment: { containerId: 'c'.repeat(64) } }),
    sampleTask('t5', '', 'pending', { networks: on('enc') }),
    sampleTask('t6', 'w5', 'running', { networks: [...on('plain'), ...on('enc')] }),
  ];
  assert.deepEqual([...encryptedOverlayNodes(networks, tasks)].sort(), ['w1', 'w4', 'w5']);
  assert.equal(encryptedOverlayNodes(networks.slice(1), tasks).size, 0, 'no encrypted network, nobody');
});

test('dispatcher sessions: overlay keys only to nodes on an encrypted network, resent on a rotation, taken away after', () => {
  const s = new DispatcherSessions();
  const key = (n: number) => ({ id: n, key: Buffer.alloc(20, n).toString('base64') });
  const snap = (keys: { keys: ReturnType<typeof key>[]; primary: number }, encrypted: string[]) => {
    const base = snapshot([m1, w1, node('w2')]);
    base.clusters = [{ ...base.clusters[0]!, overlayKeys: keys }];
    base.encryptedNodes = new Set(encrypted);
    return base;
  };
  const sent = (actions: DispatcherAction[]) =>
    Object.fromEntries(
      actions.flatMap((a) =>
        a.type === 'send'
          ? [[a.nodeId, [a.message.overlayKeys.map((k) => k.id).join(','), a.message.overlayPrimaryKey]]]
          : [],
      ),
    );
  const first = snap({ keys: [key(1)], primary: 1 }, ['w1']);
  s.lead(first.nodes, 1000, 0);
  assert.deepEqual(sent(s.registered('w1', 's1', 0, first)), { w1: ['1', 1] });
  assert.deepEqual(sent(s.registered('w2', 's2', 0, first)), { w2: ['', 0] }, 'w2 has no task there');
  const msg = s.updates(snap({ keys: [key(1), key(2)], primary: 1 }, ['w1']));
  assert.deepEqual(sent(msg), { w1: ['1,2', 1] }, 'step 1 reaches w1 only, the primary first');
  const bytes = (msg[0] as Extract<DispatcherAction, { type: 'send' }>).message.overlayKeys[1]!.key;
  assert.deepEqual(bytes, Buffer.alloc(20, 2));
  assert.deepEqual(sent(s.updates(snap({ keys: [key(1), key(2)], primary: 2 }, ['w1']))), { w1: ['2,1', 2] });
  assert.deepEqual(sent(s.updates(snap({ keys: [key(2)], primary: 2 }, ['w1', 'w2']))), {
    w1: ['2', 2],
    w2: ['2', 2],
  });
  assert.deepEqual(sent(s.updates(snap({ keys: [key(2)], primary: 2 }, ['w1', 'w2']))), {}, 'nothing new');
  assert.deepEqual(sent(s.updates(snap({ keys: [key(2)], primary: 2 }, ['w1']))), { w2: ['', 0] });
});
