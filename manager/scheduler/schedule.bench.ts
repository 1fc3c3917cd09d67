// The scheduler's pure pipeline at the scale: 1,000 nodes with varied labels, resources and
// availability, 2,000 tasks of other services already running, and one 10,000-replica service with a
// constraint and reservations. Prints the time scheduleBatch takes and the process RSS next to the issue's
// goals. This is the scheduler's share of the figure; cluster.ts measures the whole of it through
// a real 3-manager cluster (and runs this same function as its reference).
//   node dist/manager/scheduler/schedule.bench.js
import { scheduleBatch } from './index.js';
import { GiB, node, perNode, replicas, task } from '../../api/objects/test-fixtures.js';
import type { Node, Task } from '../../api/objects/index.js';

const NODES = 1_000;
const REPLICAS = 10_000;
const BACKGROUND = 2_000;
const RUNS = 5;
const MiB = 1024 ** 2;

// Deterministic variety: the same cluster every run, so figures compare across machines and commits.
function cluster(): Node[] {
  return Array.from({ length: NODES }, (_, i) =>
    node(`node-${String(i).padStart(4, '0')}`, {
      hostname: `worker-${i}`,
      role: i < 3 ? 'manager' : 'worker',
      state: i % 50 === 7 ? 'down' : 'ready',
      availability: i % 97 === 3 ? 'drain' : i % 89 === 5 ? 'pause' : 'active',
      labels: { zone: ['a', 'b', 'c'][i % 3]!, tier: i % 10 === 0 ? 'db' : 'web', rack: `r${i % 40}` },
      cpus: [2, 4, 8, 16][i % 4]!,
      memoryBytes: [4, 8, 16, 32][(i >> 2) % 4]! * GiB,
    }),
  );
}

function background(nodes: Node[]): Task[] {
  return Array.from({ length: BACKGROUND }, (_, i) =>
    task(`bg.${i}`, `bg-${i % 20}`, {
      slot: i + 1,
      nodeId: nodes[(i * 7) % nodes.length]!.id,
      cpus: 0.25,
      memoryBytes: 256 * MiB,
    }),
  );
}

interface Figures {
  placed: number;
  unschedulable: number;
  reasons: Set<string>;
  perNode: number[];
  medianMs: number;
  bestMs: number;
}

/** One warm-up, then RUNS timed passes over the same inputs (scheduleBatch never mutates them). */
function measure(nodes: Node[], existing: Task[], pending: Task[]): Figures {
  const times: number[] = [];
  let last = scheduleBatch({ nodes, tasks: existing }, pending);
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    last = scheduleBatch({ nodes, tasks: existing }, pending);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return {
    placed: last.assignments.size,
    unschedulable: last.unschedulable.size,
    reasons: new Set(last.unschedulable.values()),
    perNode: Object.values(perNode(last.assignments)),
    medianMs: times[Math.floor(times.length / 2)]!,
    bestMs: times[0]!,
  };
}

function report(title: string, f: Figures): void {
  console.log(title);
  console.log(`  placed ${f.placed}, unschedulable ${f.unschedulable}`);
  for (const reason of f.reasons) console.log(`    ${reason}`);
  console.log(
    `  nodes used ${f.perNode.length}, tasks per node min ${Math.min(...f.perNode)} max ${Math.max(...f.perNode)}`,
  );
  console.log(
    `  time to schedule all: median ${f.medianMs.toFixed(1)} ms, best ${f.bestMs.toFixed(1)} ms over ${RUNS} runs` +
      `   (goal: under 2 s)`,
  );
}

function main(): void {
  const nodes = cluster();
  const existing = background(nodes);
  const constraints = ['node.labels.tier!=db', 'node.role==worker'];
  const oneService = replicas('web', REPLICAS, { cpus: 0.1, memoryBytes: 128 * MiB, constraints });
  report(
    `scheduler pipeline: one service, ${REPLICAS} replicas on ${NODES} nodes (${BACKGROUND} tasks already running)`,
    measure(nodes, existing, oneService),
  );
  // The grouping's worst case: many small services, one heap build over all nodes per service.
  const manyServices = Array.from({ length: 1_000 }, (_, s) =>
    replicas(`svc-${s}`, REPLICAS / 1_000, { cpus: 0.1, memoryBytes: 128 * MiB, constraints }),
  ).flat();
  report(
    `scheduler pipeline: 1,000 services x ${REPLICAS / 1_000} replicas, same cluster`,
    measure(nodes, existing, manyServices),
  );
  console.log(`process RSS: ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB   (goal: under 1 GiB)`);
}

main();
