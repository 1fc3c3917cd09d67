import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bucketOf,
  bucketUpperMs,
  emptyHistogram,
  histogramAdd,
  histogramDiff,
  HISTOGRAM_BUCKETS,
  percentileMs,
  record,
} from './latency-histogram.js';

test('a latency reads back within one bucket (5 %) above its value', () => {
  for (const ms of [0.011, 0.25, 1, 3.7, 42, 999, 60_000]) {
    const up = bucketUpperMs(bucketOf(ms));
    assert.ok(up >= ms && up <= ms * 1.05 + 1e-9, `${ms} -> ${up}`);
  }
});

test('out-of-range latencies are counted at the ends, never lost', () => {
  const cases: Array<[number, number]> = [
    [0, 0],
    [-3, 0],
    [Number.NaN, 0],
    [1e12, HISTOGRAM_BUCKETS - 1],
  ];
  for (const [ms, bucket] of cases) assert.equal(bucketOf(ms), bucket, String(ms));
});

test('p99 of a run is read from the difference of two snapshots', () => {
  const h = emptyHistogram();
  for (let i = 0; i < 1000; i++) record(h, 100); // an earlier run, all slow
  const before = [...h];
  for (let i = 0; i < 990; i++) record(h, 1);
  for (let i = 0; i < 10; i++) record(h, 50);
  const run = histogramDiff(before, h);
  assert.equal(
    run.reduce((a, b) => a + b, 0),
    1000,
  );
  const p99 = percentileMs(run, 0.99)!;
  assert.ok(p99 >= 50 && p99 < 52.5, String(p99));
  const p50 = percentileMs(run, 0.5)!;
  assert.ok(p50 >= 1 && p50 < 1.05, String(p50));
  assert.equal(percentileMs(emptyHistogram(), 0.99), undefined);
});

test('histograms of several members add up', () => {
  const a = emptyHistogram();
  const b = emptyHistogram();
  record(a, 2);
  record(b, 2);
  record(b, 8);
  histogramAdd(a, b);
  assert.equal(a[bucketOf(2)], 2);
  assert.equal(a[bucketOf(8)], 1);
});
