// Deterministic simulations of the networkdb-style tables on top of SWIM: entries reach every member
// of their network and nobody else, tombstones beat stale writes, and entries of nodes that die,
// leave or restart disappear everywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GossipEvent } from '../core.js';
import { Keyring } from '../codec.js';
import { SimCluster, type SimOptions } from '../sim.js';

type TableGossipEvent = Extract<GossipEvent, { kind: 'table' }>;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `n${from + i}`);

/** A converged cluster of n nodes where network A = nodes [0,aEnd) and B = [bStart, bEnd). */
function withNetworks(
  seed: number,
  n: number,
  a: string[],
  b: string[],
  opts: Partial<SimOptions> = {},
): SimCluster {
  const sim = SimCluster.started(seed, n, 0.01, opts);
  sim.runUntil('membership', () => sim.membershipConverged(), 120_000);
  for (const id of a) sim.get(id).core.joinNetwork('A', sim.now);
  for (const id of b) sim.get(id).core.joinNetwork('B', sim.now);
  sim.run(2_000); // attachments spread; each joiner bulk-syncs with a member it knows
  return sim;
}

function holds(sim: SimCluster, node: string, network: string, key: string): string | undefined {
  return sim
    .get(node)
    .core.entries(undefined, network)
    .find((e) => e.key === key)?.value;
}

function tableEventsFor(sim: SimCluster, node: string, network: string) {
  return sim
    .get(node)
    .events.filter((e): e is TableGossipEvent => e.kind === 'table' && e.network === network);
}

for (const seed of [1, 2]) {
  test(`50 nodes, two overlapping networks: entries reach exactly their network's members (seed ${seed})`, () => {
    const a = ids(0, 25);
    const b = ids(20, 40);
    const outside = ids(40, 50);
    const sim = withNetworks(seed, 50, a, b);
    for (const id of a)
      sim.get(id).core.setEntry('overlay-peers', 'A', `ip-${id}`, b64(`vtep ${id}`), sim.now);
    for (const id of b)
      sim.get(id).core.setEntry('endpoints', 'B', `ep-${id}`, b64(`task on ${id}`), sim.now);
    const t = sim.runUntil(
      'tables converge',
      () =>
        a.every((id) => sim.get(id).core.entries('overlay-peers', 'A').length === a.length) &&
        b.every((id) => sim.get(id).core.entries('endpoints', 'B').length === b.length),
      60_000,
    );
    console.log(`  seed ${seed}: 25 entries on A and 20 on B reached every member in ${t} ms`);
    assert.ok(t <= 10_000, `took ${t} ms`);
    assert.equal(holds(sim, 'n3', 'A', 'ip-n17'), b64('vtep n17'));
    // Nobody outside a network ever held or heard of its entries.
    for (const id of [...outside, ...ids(25, 40)]) {
      assert.equal(sim.get(id).core.entries(undefined, 'A').length, 0, `${id} holds A entries`);
      assert.equal(tableEventsFor(sim, id, 'A').length, 0, `${id} saw A events`);
    }
    for (const id of [...outside, ...ids(0, 20)]) {
      assert.equal(tableEventsFor(sim, id, 'B').length, 0, `${id} saw B events`);
    }
    // Every create event on a member is for its own network only.
    assert.equal(tableEventsFor(sim, 'n22', 'A').length, 25);
    assert.equal(tableEventsFor(sim, 'n22', 'B').length, 20);
  });
}

test('a deleted entry stays deleted: its tombstone wins over a stale update (seed 3)', () => {
  const a = ids(0, 10);
  const sim = withNetworks(3, 15, a, []);
  const n1 = sim.get('n1').core;
  n1.setEntry('endpoints', 'A', 'web.1', b64('10.0.1.5'), sim.now);
  sim.runUntil('spread', () => a.every((id) => holds(sim, id, 'A', 'web.1') !== undefined), 10_000);
  const stale = sim
    .get('n1')
    .core.entries('endpoints', 'A')
    .find((e) => e.key === 'web.1')!;
  n1.deleteEntry('endpoints', 'A', 'web.1', sim.now);
  sim.runUntil('deleted', () => a.every((id) => holds(sim, id, 'A', 'web.1') === undefined), 10_000);
  // The old write (lower Lamport time) arrives late at n3 and is ignored.
  const before = tableEventsFor(sim, 'n3', 'A').length;
  sim.get('n3').core.receive({ from: 'n1', addr: 'n1', msgs: [{ t: 'entry', ...stale }] }, sim.now);
  sim.run(3_000);
  assert.equal(holds(sim, 'n3', 'A', 'web.1'), undefined);
  assert.equal(tableEventsFor(sim, 'n3', 'A').length, before, 'the stale write raised an event');
  for (const id of a) assert.equal(holds(sim, id, 'A', 'web.1'), undefined);
});

test("a dead node's entries disappear from every member, with delete events (seed 4)", () => {
  const a = ids(0, 20);
  const sim = withNetworks(4, 30, a, []);
  for (const id of ['n2', 'n5'])
    sim.get(id).core.setEntry('overlay-peers', 'A', `peer-${id}`, b64(id), sim.now);
  sim.runUntil(
    'spread',
    () => a.every((id) => sim.get(id).core.entries(undefined, 'A').length === 2),
    10_000,
  );
  sim.kill('n2');
  const t = sim.runUntil(
    "n2's entry gone",
    () => a.filter((id) => id !== 'n2').every((id) => holds(sim, id, 'A', 'peer-n2') === undefined),
    60_000,
  );
  console.log(`  n2's entry removed from 19 members ${t} ms after n2 was killed`);
  for (const id of a.filter((x) => x !== 'n2')) {
    assert.equal(holds(sim, id, 'A', 'peer-n5'), b64('n5'));
    assert.ok(tableEventsFor(sim, id, 'A').some((e) => e.type === 'delete' && e.key === 'peer-n2'));
    assert.ok(!sim.get(id).core.networkPeers('A').includes('n2'));
  }
});

test('a node leaving a network takes its entries with it, and drops the others (seed 5)', () => {
  const a = ids(0, 10);
  const sim = withNetworks(5, 12, a, []);
  sim.get('n4').core.setEntry('endpoints', 'A', 'mine', b64('x'), sim.now);
  sim.get('n6').core.setEntry('endpoints', 'A', 'other', b64('y'), sim.now);
  sim.runUntil(
    'spread',
    () => a.every((id) => sim.get(id).core.entries(undefined, 'A').length === 2),
    10_000,
  );
  sim.get('n4').core.leaveNetwork('A', sim.now);
  sim.runUntil('left', () => a.every((id) => holds(sim, id, 'A', 'mine') === undefined), 10_000);
  assert.equal(sim.get('n4').core.entries(undefined, 'A').length, 0);
  assert.ok(tableEventsFor(sim, 'n4', 'A').some((e) => e.type === 'delete' && e.key === 'other'));
  // n4 no longer receives A's news.
  sim.get('n6').core.setEntry('endpoints', 'A', 'later', b64('z'), sim.now);
  // Gossip reaches most members at once; a member the rumour missed gets it at the next bulk sync.
  const rest = a.filter((id) => id !== 'n4');
  sim.runUntil(
    'later everywhere',
    () => rest.every((id) => holds(sim, id, 'A', 'later') === b64('z')),
    35_000,
  );
  assert.equal(holds(sim, 'n4', 'A', 'later'), undefined);
  assert.equal(tableEventsFor(sim, 'n4', 'A').filter((e) => e.key === 'later').length, 0);
});

test('a restarted node retracts entries from its previous life and re-publishes new ones (seed 6)', () => {
  const a = ids(0, 10);
  const sim = withNetworks(6, 12, a, []);
  sim.get('n3').core.setEntry('overlay-peers', 'A', 'old-task', b64('old'), sim.now);
  sim.runUntil('spread', () => a.every((id) => holds(sim, id, 'A', 'old-task') !== undefined), 10_000);
  // A quick crash and restart: the others never notice it was gone, so they still hold its entry.
  sim.kill('n3');
  sim.run(200);
  sim.restart('n3', ['n0']);
  sim.get('n3').core.joinNetwork('A', sim.now);
  sim.get('n3').core.setEntry('overlay-peers', 'A', 'new-task', b64('new'), sim.now);
  const t = sim.runUntil(
    'old entry retracted, new one everywhere',
    () =>
      a.every(
        (id) =>
          holds(sim, id, 'A', 'old-task') === undefined && holds(sim, id, 'A', 'new-task') === b64('new'),
      ),
    40_000,
  );
  console.log(`  restarted n3's stale entry retracted and new one spread in ${t} ms`);
});

test('a node wrongly declared dead re-asserts its network and entries (seed 7)', () => {
  const a = ids(0, 10);
  const sim = withNetworks(7, 12, a, []);
  sim.get('n3').core.setEntry('overlay-peers', 'A', 'task', b64('v'), sim.now);
  sim.runUntil('spread', () => a.every((id) => holds(sim, id, 'A', 'task') !== undefined), 10_000);
  sim.partition([['n3'], ids(0, 12).filter((x) => x !== 'n3')]);
  sim.runUntil(
    'n3 dead',
    () => sim.up().every((n) => n.id === 'n3' || sim.view(n.id, 'n3')?.state === 'dead'),
    60_000,
  );
  assert.equal(holds(sim, 'n1', 'A', 'task'), undefined);
  sim.heal();
  const t = sim.runUntil('back', () => a.every((id) => holds(sim, id, 'A', 'task') === b64('v')), 60_000);
  console.log(`  n3's entry back on every member ${t} ms after the partition healed`);
});

test('concurrent writers of one key agree on one winner everywhere (seed 8)', () => {
  const a = ids(0, 10);
  const sim = withNetworks(8, 10, a, []);
  sim.get('n1').core.setEntry('endpoints', 'A', 'shared', b64('from n1'), sim.now);
  sim.get('n8').core.setEntry('endpoints', 'A', 'shared', b64('from n8'), sim.now);
  sim.run(5_000);
  const values = new Set(a.map((id) => holds(sim, id, 'A', 'shared')));
  assert.equal(values.size, 1, `nodes disagree: ${[...values].join(', ')}`);
});

test('every datagram and sync through the real codec, encrypted: entries, a 4 KiB value, a death (seed 9)', () => {
  const a = ids(0, 8);
  const sim = withNetworks(9, 10, a, [], { keyring: new Keyring([Buffer.alloc(32, 7)]) });
  for (const id of a) sim.get(id).core.setEntry('overlay-peers', 'A', id, b64(id), sim.now);
  sim.runUntil(
    'spread',
    () => a.every((id) => sim.get(id).core.entries(undefined, 'A').length === 8),
    10_000,
  );
  // A value bigger than a packet budget goes in a datagram of its own (not only by bulk sync).
  const big = Buffer.alloc(4096, 0xab).toString('base64');
  sim.get('n2').core.setEntry('endpoints', 'A', 'big', big, sim.now);
  sim.runUntil('big entry by gossip', () => a.every((id) => holds(sim, id, 'A', 'big') === big), 5_000);
  sim.kill('n1');
  sim.runUntil(
    'n1 gone',
    () => a.every((id) => id === 'n1' || holds(sim, id, 'A', 'n1') === undefined),
    60_000,
  );
});

test('a paused node (SIGSTOP) is declared dead, then resumes: membership and entries come back (seed 10)', () => {
  const a = ids(0, 10);
  const sim = withNetworks(10, 12, a, []);
  sim.get('n3').core.setEntry('overlay-peers', 'A', 'task', b64('v'), sim.now);
  sim.runUntil('spread', () => a.every((id) => holds(sim, id, 'A', 'task') !== undefined), 10_000);
  sim.pause('n3');
  sim.runUntil('n3 dead', () => sim.up().every((n) => sim.view(n.id, 'n3')?.state === 'dead'), 60_000);
  assert.equal(holds(sim, 'n1', 'A', 'task'), undefined);
  sim.run(20_000);
  sim.resume('n3');
  const t = sim.runUntil(
    'n3 and its entry back',
    () => sim.membershipConverged() && a.every((id) => holds(sim, id, 'A', 'task') === b64('v')),
    60_000,
  );
  console.log(`  paused n3 back with its entry on every member ${t} ms after it resumed`);
});
