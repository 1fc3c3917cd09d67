// One write's latency on the swarmlite leader, stage by stage (RaftNode's WriteLatency, read from the
// member's Status metrics before and after a run): proposed → appended (handed to storage) → durable
// (the leader's own fsync landed) → quorum (committed) → applied; each as the mean time since
// propose over the run's writes. The client's mean round trip is printed beside it: the rest of it is
// the client, the RPC and the server's encoding. etcd's mean and p50 from the same run are the
// reference (etcd exposes no per-write stages to a client).
import type { WriteLatency } from '../node/write-latency.js';
import type { KvClient } from './kv-client.js';
import type { LoadResult } from './bench-load.js';

export interface Breakdown {
  samples: number;
  appendedMs: number;
  durableMs: number;
  quorumMs: number;
  appliedMs: number;
}

/** The cumulative stage sums of the member at `addr` (undefined if it does not report them). */
export async function readLatency(client: KvClient, addr: string): Promise<WriteLatency | undefined> {
  const st = await client.status(addr).catch(() => undefined);
  if (!st) return undefined;
  const metrics = JSON.parse(st.metrics) as { writeLatency?: WriteLatency };
  return metrics.writeLatency;
}

/** The per-write means of a run, from the sums before and after it. */
export function breakdown(before: WriteLatency, after: WriteLatency): Breakdown | undefined {
  const samples = after.samples - before.samples;
  if (samples <= 0) return undefined;
  const mean = (k: keyof Omit<WriteLatency, 'samples'>): number => (after[k] - before[k]) / samples;
  return {
    samples,
    appendedMs: mean('appendedMs'),
    durableMs: mean('durableMs'),
    quorumMs: mean('quorumMs'),
    appliedMs: mean('appliedMs'),
  };
}

export interface BreakdownRow {
  system: string;
  style: string;
  concurrency: number;
  result: LoadResult;
  stages?: Breakdown;
}

/** A table of the stages per run, each swarmlite run beside etcd's mean and p50 for the same load. */
export function breakdownTable(rows: BreakdownRow[]): string {
  const head = [
    'system',
    'client',
    'conc',
    'appended',
    'durable',
    'quorum',
    'applied',
    'client mean',
    'etcd mean',
    'etcd p50',
  ];
  const out = [head];
  const f = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2));
  for (const r of rows) {
    if (!r.stages) continue;
    const etcd = rows.find(
      (e) => e.system === 'etcd' && e.style === r.style && e.concurrency === r.concurrency,
    );
    out.push([
      r.system,
      r.style,
      String(r.concurrency),
      f(r.stages.appendedMs),
      f(r.stages.durableMs),
      f(r.stages.quorumMs),
      f(r.stages.appliedMs),
      f(r.result.meanMs),
      f(etcd?.result.meanMs),
      f(etcd?.result.p50Ms),
    ]);
  }
  const widths = head.map((_, i) => Math.max(...out.map((row) => row[i]!.length)));
  return out
    .map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}
