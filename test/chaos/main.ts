// The long chaos run: rounds with fresh seeds (the first one given by --seed) until --minutes pass,
// each printing what it injected and checked, then a summary. Stops at the first failed round, which
// prints its seed; `--seed N --rounds 1` replays it. Ctrl-C takes the current lab down.
//   npm run chaos -- --minutes 30 [--seed N] [--faults 8] [--rounds R]
import { parseArgs } from 'node:util';
import { labDown } from '../../deploy/lab/lab.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { Prng } from '../../lib/prng.js';
import { chaosRound, type RoundResult } from './round.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    faults: { type: 'string', default: '8' },
    rounds: { type: 'string' },
  },
});

function whole(flag: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`chaos: --${flag} must be a whole number >= ${min}, got '${raw}'`);
    process.exit(2);
  }
  return n;
}

const minutes = whole('minutes', values.minutes, 1)!;
const faults = whole('faults', values.faults, 1)!;
const maxRounds = whole('rounds', values.rounds, 1) ?? Infinity;
const firstSeed = whole('seed', values.seed, 0) ?? Math.floor(Math.random() * 2 ** 31);
if (process.getuid?.() !== 0) {
  console.error('chaos: the lab creates network namespaces: run it as root');
  process.exit(1);
}

let current: string | undefined;
process.once('SIGINT', () => {
  console.log(`\ninterrupted: taking lab ${current ?? '(none)'} down`);
  const done = current ? labDown(current).catch(() => false) : Promise.resolve(false);
  void done.then(() => process.exit(130));
});

const seeds = new Prng(firstSeed);
const until = Date.now() + minutes * 60_000;
const results: RoundResult[] = [];
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
log(`chaos: ${minutes} min, ${faults} faults per round, first seed ${firstSeed}`);

let failed: Error | undefined;
for (
  let seed = firstSeed;
  Date.now() < until && results.length < maxRounds;
  seed = seeds.int(0, 2 ** 31 - 1)
) {
  try {
    const r = await chaosRound({
      seed,
      faults,
      holdMs: [1_500, 6_000],
      gapMs: [1_000, 4_000],
      kvClients: 3,
      convergeMs: 180_000,
      say: log,
      onLab: (name) => (current = name),
    });
    results.push(r);
    log(`round ${results.length} passed in ${r.seconds} s`);
  } catch (err) {
    failed = err as Error;
    log(`FAILED: ${failed.message}`);
    break;
  }
}

const sum = (f: (r: RoundResult) => number) => results.reduce((a, r) => a + f(r), 0);
const byKind = FAULT_KINDS.map((k: FaultKind) => `${k} ${sum((r) => r.injected[k] ?? 0)}`).join(', ');
console.log(
  [
    '',
    `summary: ${results.length} round(s) passed${failed ? ', 1 failed' : ''} in ${Math.round((Date.now() - (until - minutes * 60_000)) / 60_000)} min`,
    `  faults: ${byKind}`,
    `  KV: ${sum((r) => r.kv.writesAcked)} writes acknowledged and verified present, ${sum((r) => r.kv.writesPending)} ambiguous, ` +
      `${sum((r) => r.kv.reads)} reads; ${sum((r) => r.kv.ops)} completed ops checked linearizable`,
    `  services: ${sum((r) => r.workload.creates)} creates, ${sum((r) => r.workload.scales)} scales, ${sum((r) => r.workload.updates)} updates ` +
      `(${sum((r) => r.workload.acked)} acknowledged, ${sum((r) => r.workload.failed)} failed); ${sum((r) => r.workload.services)} services converged`,
    `  seeds: ${results.map((r) => r.seed).join(' ')}`,
  ].join('\n'),
);
process.exit(failed ? 1 : 0);
