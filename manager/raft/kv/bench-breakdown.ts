// One write's latency on the swarmlite leader, stage by stage, from the members' metrics read before
// and after a run: the leader's WriteLatency (proposed → appended: handed to storage → durable: its
// own write and fsync landed → quorum: committed → applied, each summed as time since propose over
// its own writes) and the followers' synced writes (count and time from handing a Ready's entries to
// storage until they landed). Printed as durations:
//   client+rpc   the client's mean round trip less propose→applied: the client, the gRPC or HTTP
//                hop both ways, the server's decoding, encoding and queueing before propose();
//   append       propose → handed to storage (batching, the core's step, the loop's turn);
//   leader fsync appended → durable on the leader (runs in parallel with replication);
//   follower fsync a follower's synced write, mean;
//   net+steps    appended → quorum, less a follower's fsync: the AppendEntries hop, the follower's
//                receive and step, its acknowledgement's hop back, the leader's step;
//   apply        quorum → applied on the leader.
// etcd's mean and p50 from the same run are the reference (etcd exposes no per-write stages).
// A second table gives each stage's p99 over the run's writes (from the members' cumulative
// histograms, latency-histogram.ts): a mean cannot tell which stage the slow 1 % spend their time in.
// There, replicate is appended → quorum as one per-write duration (the followers' fsync included, as
// it is not known per write on the leader), and server is propose → applied; stages' p99s do not add
// up (different writes are slow in each).
import {
  emptyHistogram,
  histogramAdd,
  histogramDiff,
  percentileMs,
  type Histogram,
} from '../node/latency-histogram.js';
import type { WriteLatency, WriteStage } from '../node/write-latency.js';
import type { KvClient } from './kv-client.js';
import type { LoadResult } from './bench-load.js';

export interface StageSums {
  leader: WriteLatency;
  /** Synced writes of the other members, summed. */
  followerSyncedWrites: number;
  followerSyncedWriteMs: number;
  followerSyncedWriteHistogram: Histogram;
}

/** p99 ms of each stage over one run (undefined where nothing was counted). */
export type StageP99 = Partial<Record<WriteStage | 'followerFsync', number>>;

export interface Breakdown {
  samples: number;
  appendedMs: number;
  durableMs: number;
  quorumMs: number;
  appliedMs: number;
  followerFsyncMs: number;
  p99: StageP99;
}

interface Metrics {
  writeLatency?: WriteLatency;
  syncedWrites: number;
  syncedWriteMs: number;
  syncedWriteHistogram?: Histogram;
}

/** The cumulative sums of the leader at `leader` and the other members (undefined if unreadable). */
export async function readStages(
  client: KvClient,
  leader: string,
  members: string[],
): Promise<StageSums | undefined> {
  const all = await Promise.all(
    members.map(async (addr) => {
      const st = await client.status(addr).catch(() => undefined);
      return st ? { addr, metrics: JSON.parse(st.metrics) as Metrics } : undefined;
    }),
  );
  const lead = all.find((m) => m?.addr === leader)?.metrics.writeLatency;
  if (!lead || all.some((m) => !m)) return undefined;
  const followers = all.filter((m) => m!.addr !== leader).map((m) => m!.metrics);
  return {
    leader: lead,
    followerSyncedWrites: followers.reduce((n, m) => n + m.syncedWrites, 0),
    followerSyncedWriteMs: followers.reduce((n, m) => n + m.syncedWriteMs, 0),
    followerSyncedWriteHistogram: followers.reduce((h, m) => {
      if (m.syncedWriteHistogram) histogramAdd(h, m.syncedWriteHistogram);
      return h;
    }, emptyHistogram()),
  };
}

/** The per-write means of a run, from the sums before and after it. */
export function breakdown(before: StageSums, after: StageSums): Breakdown | undefined {
  const samples = after.leader.samples - before.leader.samples;
  const syncs = after.followerSyncedWrites - before.followerSyncedWrites;
  if (samples <= 0 || syncs <= 0) return undefined;
  const mean = (k: 'appendedMs' | 'durableMs' | 'quorumMs' | 'appliedMs'): number =>
    (after.leader[k] - before.leader[k]) / samples;
  const p99: StageP99 = {};
  const hb = before.leader.histograms;
  const ha = after.leader.histograms;
  if (ha) {
    for (const [stage, h] of Object.entries(ha) as Array<[WriteStage, Histogram]>) {
      p99[stage] = percentileMs(histogramDiff(hb?.[stage], h), 0.99);
    }
  }
  p99.followerFsync = percentileMs(
    histogramDiff(before.followerSyncedWriteHistogram, after.followerSyncedWriteHistogram),
    0.99,
  );
  return {
    p99,
    samples,
    appendedMs: mean('appendedMs'),
    durableMs: mean('durableMs'),
    quorumMs: mean('quorumMs'),
    appliedMs: mean('appliedMs'),
    followerFsyncMs: (after.followerSyncedWriteMs - before.followerSyncedWriteMs) / syncs,
  };
}

export interface BreakdownRow {
  system: string;
  style: string;
  concurrency: number;
  result: LoadResult;
  stages?: Breakdown;
}

/** A figure in ms with two decimals, '-' where the run has none. */
const ms2 = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(2));

/** etcd's run at the same client style and concurrency as `r`, for the columns beside it. */
const etcdRowFor = (rows: BreakdownRow[], r: BreakdownRow): BreakdownRow | undefined =>
  rows.find((e) => e.system === 'etcd' && e.style === r.style && e.concurrency === r.concurrency);

/** A table of the stages per run, each swarmlite run beside etcd's mean and p50 for the same load. */
export function breakdownTable(rows: BreakdownRow[]): string {
  const head = [
    'system',
    'client',
    'conc',
    'client+rpc',
    'append',
    'leader fsync',
    'follower fsync',
    'net+steps',
    'apply',
    'client mean',
    'etcd mean',
    'etcd p50',
  ];
  const out = [head];
  for (const r of rows) {
    const s = r.stages;
    if (!s) continue;
    const etcd = etcdRowFor(rows, r);
    out.push([
      r.system,
      r.style,
      String(r.concurrency),
      ms2(r.result.meanMs - s.appliedMs),
      ms2(s.appendedMs),
      ms2(s.durableMs - s.appendedMs),
      ms2(s.followerFsyncMs),
      ms2(s.quorumMs - s.appendedMs - s.followerFsyncMs),
      ms2(s.appliedMs - s.quorumMs),
      ms2(r.result.meanMs),
      ms2(etcd?.result.meanMs),
      ms2(etcd?.result.p50Ms),
    ]);
  }
  return layout(out);
}

/** Each stage's p99 per run, beside the client's p99 and etcd's for the same load. */
export function tailTable(rows: BreakdownRow[]): string {
  const out = [
    [
      'system',
      'client',
      'conc',
      'append',
      'leader fsync',
      'replicate',
      'follower fsync',
      'apply',
      'server',
      'client p99',
      'etcd p99',
    ],
  ];
  for (const r of rows) {
    const p = r.stages?.p99;
    if (!p) continue;
    const etcd = etcdRowFor(rows, r);
    out.push([
      r.system,
      r.style,
      String(r.concurrency),
      ms2(p.append),
      ms2(p.leaderFsync),
      ms2(p.replicate),
      ms2(p.followerFsync),
      ms2(p.apply),
      ms2(p.total),
      ms2(r.result.p99Ms),
      ms2(etcd?.result.p99Ms),
    ]);
  }
  return layout(out);
}

function layout(out: string[][]): string {
  const widths = out[0]!.map((_, i) => Math.max(...out.map((row) => row[i]!.length)));
  return out
    .map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}
