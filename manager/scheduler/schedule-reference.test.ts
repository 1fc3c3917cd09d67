// The heap-and-groups scheduler must place exactly as the obvious O(nodes × tasks) one does: for each
// task in order, run the whole pipeline on every node and take the best by the spread rule. Random
// clusters (seeded, so a failure reproduces) exercise every filter, existing tasks and pinned tasks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConstraints } from '../../api/constraints.js';
import { explainNoSuitableNode, firstRejection, type Requirements } from './filters.js';
import { addTask, buildNodeInfos, demandOf, serviceTaskCount, type NodeInfo } from './node-info.js';
import { scheduleBatch, type BatchResult, type SchedulingState } from './schedule.js';
import { GiB, hostPort, node, task } from '../../api/objects/test-fixtures.js';
import type { Node, Task, TaskState } from '../../api/objects/index.js';

function referenceSchedule(state: SchedulingState, pending: Task[]): BatchResult {
  const result: BatchResult = { assignments: new Map(), unschedulable: new Map() };
  const infos = buildNodeInfos(state.nodes, state.tasks, new Set(pending.map((t) => t.id)));
  const order = [...pending].sort(
    (a, b) =>
      Number(a.nodeId === '') - Number(b.nodeId === '') ||
      (a.serviceId < b.serviceId ? -1 : a.serviceId > b.serviceId ? 1 : 0) ||
      a.slot - b.slot ||
      (a.id < b.id ? -1 : 1),
  );
  for (const t of order) {
    const req: Requirements = {
      ...demandOf(t),
      constraints: parseConstraints(t.spec.placement.constraints) as never,
    };
    const candidates = t.nodeId === '' ? [...infos.values()] : [infos.get(t.nodeId)!];
    let best: NodeInfo | undefined;
    for (const info of candidates) {
      if (firstRejection(info, req)) continue;
      if (!best) best = info;
      else {
        const ka = [serviceTaskCount(info, t.serviceId), info.taskCount];
        const kb = [serviceTaskCount(best, t.serviceId), best.taskCount];
        if (
          ka[0]! < kb[0]! ||
          (ka[0] === kb[0] && (ka[1]! < kb[1]! || (ka[1] === kb[1] && info.node.id < best.node.id)))
        ) {
          best = info;
        }
      }
    }
    if (best) {
      addTask(best, req);
      result.assignments.set(t.id, best.node.id);
    } else {
      result.unschedulable.set(t.id, explainNoSuitableNode(candidates, req));
    }
  }
  return result;
}

/** mulberry32: a tiny seeded PRNG, so each case is reproducible from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCase(seed: number): { state: SchedulingState; pending: Task[] } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const nodes: Node[] = Array.from({ length: 1 + Math.floor(r() * 12) }, (_, i) =>
    node(`n${i}`, {
      role: pick(['manager', 'worker', 'worker'] as const),
      state: pick(['ready', 'ready', 'ready', 'down'] as const),
      availability: pick(['active', 'active', 'active', 'pause', 'drain'] as const),
      labels: r() < 0.7 ? { zone: pick(['eu', 'us']) } : {},
      cpus: pick([0, 1, 2, 4]),
      memoryBytes: pick([0, 1, 2, 4]) * GiB,
    }),
  );
  const services = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => ({
    id: `s${i}`,
    cpus: pick([0, 0, 0.5, 1]),
    memoryBytes: pick([0, 0, 0.5, 1]) * GiB,
    constraints: pick([[], [], ['node.labels.zone==eu'], ['node.role!=manager'], ['node.labels.zone!=us']]),
    ports: r() < 0.3 ? [hostPort(pick([80, 443]))] : [],
    global: r() < 0.25,
  }));
  const live: TaskState[] = ['assigned', 'running', 'running', 'complete', 'failed'];
  const existing: Task[] = [];
  const pending: Task[] = [];
  for (const s of services) {
    const spec = { cpus: s.cpus, memoryBytes: s.memoryBytes, constraints: s.constraints, ports: s.ports };
    for (let k = 0; k < Math.floor(r() * 6); k++) {
      existing.push(
        task(`${s.id}.old${k}`, s.id, { ...spec, slot: k + 1, nodeId: pick(nodes).id, state: pick(live) }),
      );
    }
    if (s.global) {
      for (const n of nodes)
        if (r() < 0.8) pending.push(task(`${s.id}.${n.id}`, s.id, { ...spec, slot: 0, nodeId: n.id }));
    } else {
      for (let k = 0; k < Math.floor(r() * 20); k++)
        pending.push(task(`${s.id}.${k}`, s.id, { ...spec, slot: k + 1 }));
    }
  }
  return { state: { nodes, tasks: existing }, pending };
}

test('scheduleBatch places exactly as the exhaustive reference on 300 random clusters', () => {
  let placed = 0;
  let refused = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const { state, pending } = randomCase(seed);
    const got = scheduleBatch(state, pending);
    const want = referenceSchedule(state, pending);
    assert.deepEqual(
      Object.fromEntries(got.assignments),
      Object.fromEntries(want.assignments),
      `seed ${seed}`,
    );
    assert.deepEqual(
      Object.fromEntries(got.unschedulable),
      Object.fromEntries(want.unschedulable),
      `seed ${seed}`,
    );
    placed += got.assignments.size;
    refused += got.unschedulable.size;
  }
  // The generator must exercise both outcomes, or the comparison proves little.
  assert.ok(placed > 500 && refused > 100, `placed ${placed}, refused ${refused}`);
});
