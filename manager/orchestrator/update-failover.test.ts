// Property: a rolling update driven by planService over a simulated cluster, with leader failovers at
// random points, keeps every slot covered and completes. A failover either drops the plan the old
// leader computed before it was committed, or has the new leader re-plan on the same store state right
// after a commit. The planners keep nothing in memory, so both must be harmless; the invariants below
// would catch a duplicated slot (two tasks started for one slot), a lost slot, or a stalled update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTerminalTaskState, type Node, type Task, type UpdateOrder } from '../../api/objects/index.js';
import { planService } from './service.js';
import { isAlive, isDraining, isOccupant, slotKey } from './tasks.js';
import { activeUpdateConfig, isUpToDate } from './update.js';
import { SimStore, T0, counterIds, node, service, serviceSpec } from './test-fixtures.js';
import { prng as rng } from '../../lib/fuzz.js';

interface Scenario {
  seed: number;
  /** Global: one slot per node (a, b, c), `replicas` is then 3. */
  global?: boolean;
  replicas: number;
  order: UpdateOrder;
  parallelism: number;
  delayMs: number;
  /** Chance per tick that a running task of the new image fails (restart policy any brings it back). */
  failRate: number;
  /** The new image always fails: the update must roll itself back. */
  badImage: boolean;
}

const NEXT_STATE: Partial<Record<Task['status']['state'], Task['status']['state']>> = {
  new: 'pending',
  pending: 'assigned',
  assigned: 'starting',
  starting: 'running',
};

/** One tick of the cluster: the scheduler and workers move tasks forward, some at random. */
function progress(
  store: SimStore,
  rand: () => number,
  now: number,
  failRate: number,
  badImage: string,
): void {
  const ready = [...store.nodes.values()].filter(
    (n) => n.status.state === 'ready' && n.spec.availability === 'active',
  );
  for (const t of store.list()) {
    const n = store.nodes.get(t.nodeId);
    if (isTerminalTaskState(t.status.state) || rand() < 0.4) continue;
    if (n && n.status.state === 'down') continue; // its worker is gone: nothing reports
    if (!isOccupant(t)) {
      store.setStatus(t.id, 'shutdown', now);
    } else if (t.status.state === 'pending') {
      const pick = t.nodeId || ready[Math.floor(rand() * ready.length)]?.id;
      if (pick) store.setStatus(t.id, 'assigned', now, pick);
    } else if (t.status.state === 'running') {
      if (t.spec.image === badImage || rand() < failRate) store.setStatus(t.id, 'failed', now);
    } else if (t.desiredState === 'running' || t.status.state !== 'assigned') {
      store.setStatus(t.id, NEXT_STATE[t.status.state]!, now);
    }
  }
}

/**
 * `returning`: global nodes back from down whose old task is still stopping; their slot waits for it
 * (like a stop-first gap) without being the update's doing.
 */
function checkInvariants(store: SimStore, s: Scenario, where: string, returning: Set<string>): void {
  const slots = new Map<string, Task[]>();
  for (const t of store.list()) slots.set(slotKey(t), [...(slots.get(slotKey(t)) ?? []), t]);
  let covered = 0;
  let occupied = 0;
  for (const [key, tasks] of slots) {
    const alive = tasks.filter(isAlive);
    const msg = `${where}: slot ${key}: ${alive.map((t) => `${t.id}/${t.spec.image}/${t.status.state}`).join(' ')}`;
    if (alive.length === 2) {
      assert.equal(s.order, 'start-first', `two live tasks in a stop-first slot: ${msg}`);
      assert.equal(
        alive.filter((t) => isUpToDate(t, store.svc)).length,
        1,
        `start-first overlap is old+new: ${msg}`,
      );
    } else {
      assert.ok(alive.length <= 1, `two live tasks in a slot: ${msg}`);
    }
    if (!s.global) assert.ok(Number(key) >= 1 && Number(key) <= s.replicas, `slot out of range: ${msg}`);
    // A global slot whose node is down is shut down, not replaced: it is no slot any more.
    if (s.global && store.nodes.get(key)?.status.state !== 'ready') continue;
    if (returning.has(key)) {
      if (!tasks.some(isOccupant)) continue;
      returning.delete(key);
    }
    if (tasks.some(isOccupant)) occupied++;
    if (tasks.some((t) => isOccupant(t) || isDraining(t, store.nodes))) covered++;
  }
  const slotCount = s.global
    ? [...store.nodes.values()].filter((n) => n.status.state === 'ready' && !returning.has(n.id)).length
    : s.replicas;
  // Stop-first empties at most one batch of slots at a time (a stopped task that was dead or never
  // scheduled leaves its slot uncovered until the next pass refills it); start-first never does.
  const config = activeUpdateConfig(store.svc);
  const gap = config.order === 'stop-first' ? config.parallelism || s.replicas : 0;
  assert.ok(covered <= slotCount, `${where}: ${covered} slots for ${slotCount} replicas`);
  assert.ok(covered >= slotCount - gap, `${where}: ${slotCount - covered} slots lost`);
  assert.ok(occupied >= slotCount - gap, `${where}: ${slotCount - occupied} slots without a task`);
}

function run(s: Scenario): { steps: number; failovers: number; finalState: string } {
  const rand = rng(s.seed);
  const nodes = new Map<string, Node>(['a', 'b', 'c'].map((id) => [id, node(id)]));
  const update = { order: s.order, parallelism: s.parallelism, delayMs: s.delayMs, monitorMs: 2_000 };
  const replicas = s.global ? ('global' as const) : s.replicas;
  const v1 = service('web', {
    replicas,
    image: 'img:1',
    update,
    rollback: { ...update, parallelism: 0 },
  });
  const store = new SimStore(v1, nodes);
  const newId = counterIds('t'); // ids are random in production: never reused by a new leader
  let now = T0;
  let failovers = 0;
  let badCreated = 0; // tasks of the new image: bounded when it always fails (the update reacts)
  const returning = new Set<string>();
  let phase: 'rollout' | 'update' = 'rollout';
  for (let step = 1; step <= 3_000; step++) {
    progress(store, rand, now, phase === 'update' ? s.failRate : 0, s.badImage ? 'img:2' : '');
    if (step === 40 && phase === 'update') store.nodes.set('c', node('c', { state: 'down' }));
    if (step === 40 && phase === 'update' && s.global) returning.add('c');
    if (step === 90) store.nodes.set('c', node('c'));
    let plan = planService(store.svc, store.list(), store.nodes, { now, newId });
    if (rand() < 0.15) {
      failovers++; // the leader died before its batch committed: the next one re-plans from the store
    } else {
      store.apply(plan, now);
      badCreated += plan.create.filter((t) => t.spec.image === 'img:2').length;
      if (phase === 'update') checkInvariants(store, s, `step ${step}`, returning);
      if (rand() < 0.15) {
        failovers++; // a new leader re-plans right after the commit, on the very same state
        plan = planService(store.svc, store.list(), store.nodes, { now, newId });
        store.apply(plan, now);
        badCreated += plan.create.filter((t) => t.spec.image === 'img:2').length;
        if (phase === 'update') checkInvariants(store, s, `step ${step} (new leader)`, returning);
      }
    }
    now += 100 + Math.floor(rand() * 900);
    const alive = store.list().filter(isAlive);
    const settled = alive.length === s.replicas && alive.every((t) => t.status.state === 'running');
    if (phase === 'rollout' && settled && step > 5) {
      phase = 'update';
      const spec = serviceSpec('web', {
        replicas,
        image: 'img:2',
        update,
        rollback: { ...update, parallelism: 0 },
      });
      if (s.failRate > 0) spec.update.failureAction = 'continue';
      if (s.badImage) spec.update.failureAction = 'rollback';
      // What the control API writes for `service update`.
      store.svc = {
        ...store.svc,
        previousSpec: store.svc.spec,
        spec,
        specVersion: store.svc.specVersion + 1,
      };
    }
    const state = store.svc.updateStatus?.state;
    if (phase === 'update' && settled && (state === 'completed' || state === 'rollback_completed')) {
      const image = s.badImage ? 'img:1' : 'img:2';
      assert.deepEqual(
        alive.map((t) => t.spec.image),
        alive.map(() => image),
      );
      assert.deepEqual(new Set(alive.map(slotKey)).size, s.replicas);
      // An always-failing image must be rolled back after a few failures, not restarted for ever.
      if (s.badImage) assert.ok(badCreated <= 3 * s.replicas, `${badCreated} tasks of the bad image`);
      return { steps: step, failovers, finalState: state };
    }
  }
  assert.fail(`update did not finish: ${JSON.stringify(store.svc.updateStatus)}`);
}

const scenarios: Omit<Scenario, 'seed'>[] = [
  { replicas: 5, order: 'stop-first', parallelism: 1, delayMs: 0, failRate: 0, badImage: false },
  { replicas: 5, order: 'stop-first', parallelism: 2, delayMs: 1_500, failRate: 0, badImage: false },
  { replicas: 4, order: 'stop-first', parallelism: 0, delayMs: 0, failRate: 0, badImage: false },
  { replicas: 5, order: 'start-first', parallelism: 1, delayMs: 0, failRate: 0, badImage: false },
  { replicas: 6, order: 'start-first', parallelism: 3, delayMs: 1_000, failRate: 0, badImage: false },
  { replicas: 5, order: 'stop-first', parallelism: 2, delayMs: 0, failRate: 0.02, badImage: false },
  { replicas: 5, order: 'start-first', parallelism: 2, delayMs: 0, failRate: 0.02, badImage: false },
  { replicas: 4, order: 'stop-first', parallelism: 1, delayMs: 0, failRate: 0, badImage: true },
  { replicas: 4, order: 'start-first', parallelism: 1, delayMs: 0, failRate: 0, badImage: true },
  {
    global: true,
    replicas: 3,
    order: 'stop-first',
    parallelism: 1,
    delayMs: 500,
    failRate: 0.02,
    badImage: false,
  },
  {
    global: true,
    replicas: 3,
    order: 'start-first',
    parallelism: 2,
    delayMs: 0,
    failRate: 0,
    badImage: true,
  },
];

for (const sc of scenarios) {
  const name = `${sc.global ? 'global ' : ''}${sc.order} x${sc.replicas} par ${sc.parallelism} delay ${sc.delayMs}${sc.failRate ? ' with failures' : ''}${sc.badImage ? ' bad image → rollback' : ''}`;
  test(`failover property: ${name}, 20 seeds`, () => {
    let steps = 0;
    let failovers = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = run({ ...sc, seed });
      assert.equal(r.finalState, sc.badImage ? 'rollback_completed' : 'completed');
      steps += r.steps;
      failovers += r.failovers;
    }
    console.log(`# ${name}: ${steps} steps, ${failovers} failovers over 20 seeds`);
  });
}
