import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDnsperf } from './dnsperf.js';

// dnsperf 2.10's statistics block, as printed for a run against dnsmasq.
const SAMPLE = `
Statistics:

  Queries sent:         270517
  Queries completed:    270510 (100.00%)
  Queries lost:         7 (0.00%)

  Response codes:       NOERROR 270500 (99.99%), NXDOMAIN 10 (0.01%)
  Average packet size:  request 21, response 37
  Run time (s):         1.000418
  Queries per second:   270403.971140

  Average Latency (s):  0.000327 (min 0.000011, max 0.006807)
  Latency StdDev (s):   0.000167
`;

test('dnsperf statistics are read', () => {
  const { avgLatencyMs, ...counts } = parseDnsperf(SAMPLE);
  assert.deepEqual(counts, {
    qps: 270403.97114,
    completed: 270510,
    lost: 7,
    noerror: 270500,
    responseBytes: 37,
  });
  assert.ok(Math.abs(avgLatencyMs - 0.327) < 1e-9, String(avgLatencyMs));
});

test('output without the figures is an error, not zeros', () => {
  assert.throws(() => parseDnsperf('Error: could not open datafile'), /no queries per second/);
});
