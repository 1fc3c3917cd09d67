// A cumulative latency histogram with log-spaced buckets, so that a tail (p99) can be read from two
// snapshots of a running member, as its means are read from two sums (write-latency.ts): counts only
// grow, and the counts of one run are the later snapshot less the earlier. Buckets grow by 5 % from
// 10 µs, so a percentile read back is within 5 % of the true value, in 330 numbers from 10 µs to
// about 90 s; anything slower lands in the last bucket.

const FIRST_MS = 0.01;
const GROWTH = 1.05;
export const HISTOGRAM_BUCKETS = 330;
const LOG_GROWTH = Math.log(GROWTH);

/** Counts per bucket; bucket i holds latencies in [upper(i-1), upper(i)). */
export type Histogram = number[];

export function emptyHistogram(): Histogram {
  return new Array<number>(HISTOGRAM_BUCKETS).fill(0);
}

/** The bucket a latency of `ms` falls in. */
export function bucketOf(ms: number): number {
  if (!(ms > FIRST_MS)) return 0; // also NaN and negatives (a clock step): counted, never lost
  const i = Math.ceil(Math.log(ms / FIRST_MS) / LOG_GROWTH);
  return Math.min(HISTOGRAM_BUCKETS - 1, i);
}

/** The upper bound of bucket `i`, in ms: what a percentile falling in it reads as. */
export function bucketUpperMs(i: number): number {
  return FIRST_MS * GROWTH ** i;
}

export function record(h: Histogram, ms: number): void {
  h[bucketOf(ms)]!++;
}

/** The counts added between two snapshots of one histogram (`after` taken later). */
export function histogramDiff(before: Histogram | undefined, after: Histogram): Histogram {
  return after.map((n, i) => n - (before?.[i] ?? 0));
}

/** Adds `b`'s counts into `a`. */
export function histogramAdd(a: Histogram, b: Histogram): void {
  for (let i = 0; i < a.length; i++) a[i]! += b[i] ?? 0;
}

/**
 * The latency at or below which a fraction `p` of the counted ones lie (the upper bound of the bucket
 * holding the rank, the same rank rule as the load generator's sorted percentiles); undefined if empty.
 */
export function percentileMs(h: Histogram, p: number): number | undefined {
  const total = h.reduce((s, n) => s + n, 0);
  if (total === 0) return undefined;
  const rank = Math.min(total - 1, Math.floor(p * total));
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i]!;
    if (seen > rank) return bucketUpperMs(i);
  }
  return bucketUpperMs(h.length - 1);
}
