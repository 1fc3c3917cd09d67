// Deterministic simulations of SWIM membership: convergence, failure detection, refutation,
// partition healing, restarts. Each scenario runs on a few seeds; figures are printed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimCluster } from '../sim.js';

const SEEDS = [1, 2, 3, 4, 5];

const startCluster = (seed: number, n: number, loss = 0.01) => SimCluster.started(seed, n, loss);
const describeDisagreement = (sim: SimCluster) => sim.describeDisagreement();
const view = (sim: SimCluster, observer: string, target: string) => sim.view(observer, target);

for (const seed of SEEDS) {
  test(`50 nodes converge on membership, 1% loss (seed ${seed})`, () => {
    const sim = startCluster(seed, 50);
    sim.run(3000);
    const early = sim.agreement();
    let t: number;
    try {
      t = sim.runUntil('membership convergence', () => sim.membershipConverged(), 120_000);
    } catch (err) {
      throw new Error(`${String(err)}: ${describeDisagreement(sim)}`);
    }
    t += 3000;
    console.log(
      `  seed ${seed}: ${(early * 100).toFixed(2)}% of views right 3 s after the last join; ` +
        `all 50 converged after ${t} ms (${sim.datagrams} datagrams, ${sim.dropped} lost)`,
    );
    // Piggybacking (limit 4*ceil(log10 51) = 8 sends per node per rumour) reaches almost every
    // node within a few gossip rounds; the rare miss is repaired by push-pull, whose period at 50
    // nodes is 60 s (first one after 30-60 s): full agreement is bounded by ~2 push-pull periods.
    assert.ok(early >= 0.99, `only ${early} of views right after 3 s`);
    assert.ok(t <= 120_000, `took ${t} ms`);
  });
}

/** Runs a converged 50-node cluster (seeded); converging itself is tested above. */
function converged(seed: number, n = 50, loss = 0.01): SimCluster {
  const sim = startCluster(seed, n, loss);
  sim.runUntil('membership convergence', () => sim.membershipConverged(), 120_000);
  return sim;
}

for (const seed of SEEDS.slice(0, 3)) {
  test(`a killed node is declared dead by every node within the suspicion bound (seed ${seed})`, () => {
    const sim = converged(seed);
    sim.kill('n7');
    const t = sim.runUntil(
      'everyone sees n7 dead',
      () => sim.up().every((n) => view(sim, n.id, 'n7')?.state === 'dead'),
      120_000,
    );
    // Bound: n7 is probed by someone about once per period (49 probers, round robin), the probe
    // takes one period, then the suspicion runs between min = 4 * log10(50) * 1 s = 6.8 s (with
    // k = 2 confirmations) and max = 6 * min = 40.8 s, then one gossip spread (~1 s).
    const min = 6_796;
    const max = 40_776;
    console.log(`  seed ${seed}: 50 nodes see n7 dead ${t} ms after it was killed`);
    assert.ok(t >= min, `declared dead before the minimum suspicion timeout (${t} ms)`);
    assert.ok(t <= max + 4_000, `took ${t} ms`);
    // Confirmations shrink the timeout: with 49 probers it must get well below the maximum.
    assert.ok(t <= min + 6_000, `confirmations did not shorten the suspicion (${t} ms)`);
    assert.ok(sim.membershipConverged(), describeDisagreement(sim));
    // Lifeguard: the indirect helpers' nacks tell probers their own links are fine, so the
    // failed probes of n7 leave (almost) everyone's health score at 0.
    const healthy = sim.up().filter((n) => n.core.awareness() === 0).length;
    assert.ok(healthy >= 45, `only ${healthy} of 49 nodes kept a zero health score`);
  });

  test(`a node wrongly suspected through packet loss refutes and stays alive (seed ${seed})`, () => {
    const sim = converged(seed);
    // n5 loses every datagram in and out until somebody suspects it.
    const ids = [...sim.nodes.keys()];
    for (const id of ids) {
      sim.linkLoss.set(`${id}>n5`, 1);
      sim.linkLoss.set(`n5>${id}`, 1);
    }
    const before = sim.get('n5').core.incarnation();
    sim.runUntil(
      'someone suspects n5',
      () => sim.up().some((n) => view(sim, n.id, 'n5')?.state === 'suspect'),
      30_000,
    );
    // Its own probes fail too: within one probe period (1 s) of the first suspicion it knows it is sick.
    sim.runUntil('n5 notices', () => sim.get('n5').core.awareness() > 0, 1_000);
    assert.ok(sim.get('n5').core.awareness() > 0, 'the cut-off node did not notice it is the sick one');
    sim.linkLoss.clear();
    const t = sim.runUntil('n5 alive everywhere', () => sim.membershipConverged(), 30_000);
    const inc = sim.get('n5').core.incarnation();
    console.log(
      `  seed ${seed}: n5 refuted (incarnation ${before} -> ${inc}) ${t} ms after its link came back`,
    );
    assert.ok(inc > before, 'n5 did not raise its incarnation');
    assert.ok(t <= 15_000, `refutation took ${t} ms`);
    for (const n of sim.up()) {
      assert.ok(
        !n.events.some((e) => e.kind === 'member' && e.id === 'n5' && e.type === 'dead'),
        `${n.id} declared n5 dead`,
      );
      if (n.id !== 'n5') assert.ok(view(sim, n.id, 'n5')!.incarnation > before, `${n.id} holds a stale n5`);
    }
  });
}

test('a healed partition re-merges through push-pull (seeds 1-2, 20 nodes)', () => {
  for (const seed of [1, 2]) {
    const sim = converged(seed, 20, 0.01);
    const a = Array.from({ length: 10 }, (_, i) => `n${i}`);
    const b = Array.from({ length: 10 }, (_, i) => `n${i + 10}`);
    sim.partition([a, b]);
    // Long enough for each side to declare the other dead and stop gossiping to it (30 s).
    sim.runUntil(
      'each side sees the other dead',
      () =>
        sim.up().every((n) => {
          const other = a.includes(n.id) ? b : a;
          return other.every((id) => view(sim, n.id, id)?.state === 'dead');
        }),
      120_000,
    );
    sim.run(40_000);
    sim.heal();
    const t = sim.runUntil('re-merge', () => sim.membershipConverged(), 240_000);
    console.log(`  seed ${seed}: 2x10 partition re-merged ${t} ms after healing`);
    // Reconnect push-pulls to dead members run every push-pull period (30 s at 20 nodes).
    assert.ok(t <= 120_000, `took ${t} ms`);
  }
});

test('a restarted node (fresh state, same id) rejoins with a higher incarnation (seed 3)', () => {
  const sim = converged(3, 20);
  sim.kill('n4');
  sim.runUntil(
    'n4 dead everywhere',
    () => sim.up().every((n) => view(sim, n.id, 'n4')?.state === 'dead'),
    60_000,
  );
  const oldInc = view(sim, 'n1', 'n4')!.incarnation;
  sim.restart('n4', ['n0']);
  const t = sim.runUntil('n4 back', () => sim.membershipConverged(), 30_000);
  console.log(`  n4 rejoined after a restart in ${t} ms`);
  assert.ok(sim.get('n4').core.incarnation() > oldInc);
  assert.ok(
    sim
      .get('n1')
      .events.some(
        (e) => e.kind === 'member' && e.id === 'n4' && e.type === 'join' && e.incarnation > oldInc,
      ),
  );
});

test('a graceful leave is seen as "left", not a failure (seed 4)', () => {
  const sim = converged(4, 20);
  const start = sim.now;
  sim.get('n9').core.leave(sim.now);
  sim.runUntil('leave sent', () => sim.get('n9').core.leaveSent(), 5_000, 10);
  sim.kill('n9');
  sim.runUntil(
    'n9 left everywhere',
    () => sim.up().every((n) => view(sim, n.id, 'n9')?.state === 'left'),
    10_000,
    10,
  );
  const t = sim.now - start;
  console.log(`  n9's leave reached 19 nodes in ${t} ms`);
  for (const n of sim.up()) {
    assert.ok(
      !n.events.some(
        (e) => e.kind === 'member' && e.id === 'n9' && (e.type === 'suspect' || e.type === 'dead'),
      ),
    );
  }
});

test('10% loss and 1-50 ms delays for two minutes: suspicions come and go, nobody is declared dead (seeds 1-2)', () => {
  for (const seed of [1, 2]) {
    const sim = SimCluster.started(seed, 20, 0.1, { maxDelayMs: 50 });
    sim.runUntil('membership convergence', () => sim.membershipConverged(), 120_000);
    sim.run(120_000);
    const events = sim.up().flatMap((n) => n.events);
    const suspicions = events.filter((e) => e.kind === 'member' && e.type === 'suspect').length;
    const deaths = events.filter((e) => e.kind === 'member' && e.type === 'dead').length;
    console.log(
      `  seed ${seed}: 10% loss, 120 s: ${suspicions} suspicions raised and refuted, ${deaths} false deaths`,
    );
    assert.equal(deaths, 0);
    assert.ok(sim.membershipConverged(), describeDisagreement(sim));
  }
});

test('Lifeguard local health: a node on a 50% lossy link wrongly suspects healthy nodes far less (seed 1)', () => {
  const run = (awarenessMax: number) => {
    const sim = SimCluster.started(1, 20, 0.01, { swim: { awarenessMax } });
    sim.runUntil('membership convergence', () => sim.membershipConverged(), 120_000);
    for (const id of sim.nodes.keys()) {
      if (id === 'n5') continue;
      sim.linkLoss.set(`${id}>n5`, 0.5);
      sim.linkLoss.set(`n5>${id}`, 0.5);
    }
    let maxScore = 0;
    for (let s = 0; s < 120; s++) {
      sim.run(1_000);
      maxScore = Math.max(maxScore, sim.get('n5').core.awareness());
    }
    const about = (type: string) =>
      sim
        .up()
        .flatMap((n) => n.events.filter((e) => e.kind === 'member' && e.type === type && e.id !== 'n5'));
    return { suspicions: about('suspect').length, deaths: about('dead').length, maxScore };
  };
  const withLha = run(8);
  const without = run(1); // score capped at 0: timeouts never stretch
  console.log(
    `  n5 at 50% loss for 120 s: ${withLha.suspicions} suspicion events about healthy nodes with local health ` +
      `(n5's score reached ${withLha.maxScore}), ${without.suspicions} without; false deaths ${withLha.deaths}/${without.deaths}`,
  );
  assert.ok(withLha.maxScore > 0);
  assert.equal(without.maxScore, 0);
  assert.equal(withLha.deaths, 0);
  assert.ok(withLha.suspicions * 2 < without.suspicions);
});
