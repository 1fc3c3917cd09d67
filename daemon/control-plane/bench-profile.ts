// Where the leader's CPU went during the measurement: reads a V8 .cpuprofile (node --cpu-prof) and
// sums the samples inside a time window into a few categories, each sample going to the first category
// (in the order below) that any frame of its stack matches. So "store: propose" includes everything
// a controller's store.update costs up to the Raft proposal, whichever controller called it, and a
// controller's own line is what it spends outside the store.
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
}

interface Profile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

type Test = (f: CallFrame) => boolean;
const fn =
  (name: string, file?: string): Test =>
  (f) =>
    f.functionName === name && (file === undefined || f.url.includes(file));
const file =
  (part: string): Test =>
  (f) =>
    f.url.includes(part);

const CATEGORIES: [string, Test][] = [
  ['garbage collector', fn('(garbage collector)')],
  ['idle', fn('(idle)')],
  ['store: apply (decode, validate, freeze, index, events)', fn('applyCommitted', 'manager/store/')],
  ['store: propose (tx clone+freeze, encode)', fn('update', 'manager/store/store.js')],
  ['orchestrator: planService', fn('planService')],
  ['scheduler: scheduleBatch', fn('scheduleBatch')],
  [
    'allocator: pure allocation',
    (f) => f.url.includes('manager/allocator/') && !f.url.endsWith('controller.js'),
  ],
  ['agents, dispatcher batching, simulated executor', (f) => /\/worker\/|dispatcher\//.test(f.url)],
  ['Raft: log on LMDB', (f) => f.url.includes('lmdb') || f.url.includes('manager/raft/storage/')],
  [
    'Raft: core, node, transport (incl. gRPC)',
    (f) => f.url.includes('manager/raft/') || f.url.includes('grpc'),
  ],
  ['controllers: reads, task building, loop', file('manager/')],
  ['benchmark (watch, IPC)', file('control-plane/bench-')],
];

export interface Breakdown {
  totalMs: number;
  rows: { category: string; ms: number }[];
}

/** Sums the samples between `fromUs` and `toUs` (the profile's clock: process.hrtime in µs). */
export async function breakdown(path: string, fromUs: number, toUs: number): Promise<Breakdown> {
  const p = JSON.parse(await readFile(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryOf = new Map<number, string>();
  const classify = (leaf: number): string => {
    const known = categoryOf.get(leaf);
    if (known) return known;
    const frames: CallFrame[] = [];
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id))
      frames.push(byId.get(id)!.callFrame);
    const category = CATEGORIES.find(([, test]) => frames.some(test))?.[0] ?? 'other (Node internals)';
    categoryOf.set(leaf, category);
    return category;
  };
  const sums = new Map<string, number>();
  let at = p.startTime;
  let totalMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i]!;
    // A sample's time runs until the next one.
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (at < fromUs || at > toUs) continue;
    const category = classify(p.samples[i]!);
    sums.set(category, (sums.get(category) ?? 0) + ms);
    totalMs += ms;
  }
  const rows = [...sums].map(([category, ms]) => ({ category, ms })).sort((a, b) => b.ms - a.ms);
  return { totalMs, rows };
}
