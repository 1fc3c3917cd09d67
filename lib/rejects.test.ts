// The reject log (issue 18, fault 8): a flood of garbage makes one line per source and kind per
// interval, with its count; totals by kind for `swarmlite info`; memory bounded under spoofed sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OTHER_SOURCES, RejectLog, rejectLine } from './rejects.js';

test('10,000 rejects from one source are one summary with their count; kinds and sources apart', () => {
  const r = new RejectLog();
  for (let i = 0; i < 10_000; i++) r.note('gossip-udp:auth', '198.18.0.99', 'bad key', 1_000 + i);
  r.note('gossip-udp:auth', '198.18.0.98', 'bad key', 20_000);
  r.note('dns-udp:malformed', 'task t1', 'FORMERR', 20_001);
  const lines = r.flush();
  assert.deepEqual(
    lines.map((s) => [s.kind, s.source, s.count, s.first, s.last]),
    [
      ['dns-udp:malformed', 'task t1', 1, 20_001, 20_001],
      ['gossip-udp:auth', '198.18.0.98', 1, 20_000, 20_000],
      ['gossip-udp:auth', '198.18.0.99', 10_000, 1_000, 10_999],
    ],
  );
  assert.equal(
    rejectLine(lines[2]!, 10_000),
    'rejected 10000 gossip-udp:auth inputs from 198.18.0.99 in the last 10 s: bad key',
  );
  assert.deepEqual(r.flush(), [], 'the next interval starts empty');
  assert.deepEqual(r.counts(), { 'dns-udp:malformed': 1, 'gossip-udp:auth': 10_001 }, 'totals stay');
});

test('spoofed sources past the bound are counted together, never as new entries', () => {
  const r = new RejectLog(4);
  for (let i = 0; i < 1000; i++) r.note('gossip-udp:version', `10.0.${i >> 8}.${i & 255}`, 'x', i);
  const lines = r.flush();
  assert.equal(lines.length, 5);
  const other = lines.find((s) => s.source === OTHER_SOURCES)!;
  assert.equal(other.count, 996);
  assert.equal(r.counts()['gossip-udp:version'], 1000);
});
