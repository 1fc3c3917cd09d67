// The short chaos round CI runs: one seeded round on a lab of 3 managers + 2 workers with each fault
// kind once (leader SIGKILL, partitions both ways and one way, a worker SIGKILL, the whole control plane
// SIGKILLed), then every acknowledged write present, the KV history linearizable, services converged,
// no slot running twice, nothing of the lab left. SWARMLITE_CHAOS_SEED replays a failed round.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRoot } from '../e2e/harness.js';
import { FAULT_KINDS } from './faults.js';
import { chaosRound } from './round.js';

const seed = Number(process.env.SWARMLITE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

test(`chaos round (seed ${seed})`, { skip: !isRoot && 'needs root', timeout: 600_000 }, async (t) => {
  const result = await chaosRound({
    seed,
    faults: FAULT_KINDS.length,
    holdMs: [1_500, 4_000],
    gapMs: [1_000, 3_000],
    kvClients: 3,
    convergeMs: 180_000,
    say: (line) => t.diagnostic(line),
  });
  for (const kind of FAULT_KINDS) assert.equal(result.injected[kind], 1, `${kind} injected once`);
  assert.ok(result.kv.writesAcked > 0, 'the KV clients had writes acknowledged');
  assert.ok(result.kv.reads > 0, 'the KV clients read');
  assert.ok(result.workload.acked > 0, 'the service workload had writes acknowledged');
  t.diagnostic(JSON.stringify(result));
});
