// The load generator both systems are measured with: `concurrency` workers, each issuing its share of
// writes one after another through the same client object (one gRPC channel, HTTP/2 multiplexed), with
// every request's latency recorded.
export interface LoadResult {
  writes: number;
  seconds: number;
  writesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Mean latency: what the leader's per-stage means (bench-breakdown.ts) add up toward. */
  meanMs: number;
}

export type PutFn = (key: string, value: Uint8Array) => Promise<void>;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** A run's latencies (ms, sorted) beside its figures, so that runs can be combined. */
export type LoadRun = LoadResult & { latencies: Float64Array };

export async function runLoad(
  put: PutFn,
  opts: { concurrency: number; writes: number; valueSize: number; prefix: string },
): Promise<LoadRun> {
  const value = new Uint8Array(opts.valueSize).fill(0x61);
  const latencies = new Float64Array(opts.writes);
  let issued = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      for (;;) {
        const i = issued++;
        if (i >= opts.writes) return;
        const t0 = process.hrtime.bigint();
        await put(`${opts.prefix}/${w}/${i}`, value);
        latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return summarize(latencies, seconds);
}

function summarize(latencies: Float64Array, seconds: number): LoadRun {
  let total = 0;
  for (const l of latencies) total += l;
  latencies.sort();
  return {
    writes: latencies.length,
    seconds,
    writesPerSec: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    meanMs: total / latencies.length,
    latencies,
  };
}

/** Runs of one load taken in turns with another system's: writes over their summed time, all latencies. */
export function combineRuns(runs: LoadRun[]): LoadRun {
  const all = new Float64Array(runs.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  return summarize(
    all,
    runs.reduce((s, r) => s + r.seconds, 0),
  );
}
