// The allocator's cost at scale (pure, one process): 10,000 task addresses on one /16 network, then the
// release and reallocation of half of them, then the state rebuilt from the 10,000 tasks (a new leader).
// Reference, measured in the same run: the same number of inserts into a plain Set of the address
// strings, the floor for any allocator that records what it handed out. Goal: allocation and churn
// under 200 ms each.
//   npm run bench:allocator
import { allocateNetwork } from './networks.js';
import { allocatorStateFrom } from './restore.js';
import { AllocatorState } from './state.js';
import { allocateTask, releaseTask } from './tasks.js';
import { network, service, task, value } from './test-fixtures.js';

const COUNT = 10_000;
const RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function oneRun() {
  const net = network('n', 'big', { ipam: [{ subnet: '10.50.0.0/16' }] });
  const svc = service('s', 's', { networks: ['n'], endpointMode: 'dnsrr' });
  const tasks = Array.from({ length: COUNT }, (_, i) => task(`t${i}`, svc, i + 1));
  const state = new AllocatorState();
  Object.assign(net, value(allocateNetwork(state, net)));
  let addresses: string[] = [];
  const allocateMs = timed(() => {
    addresses = tasks.map((t) => value(allocateTask(state, t, svc))[0].addresses[0]!);
  });
  const churnMs = timed(() => {
    for (let i = 0; i < COUNT; i += 2) value(releaseTask(state, tasks[i]!.id));
    for (let i = 0; i < COUNT; i += 2) value(allocateTask(state, tasks[i]!, svc));
  });
  for (const [i, t] of tasks.entries())
    t.networks = [{ networkId: 'n', addresses: [addresses[i]!], aliases: [] }];
  const restoreMs = timed(() => {
    const { problems } = allocatorStateFrom({ networks: [net], services: [], tasks });
    if (problems.length > 0) throw new Error(`rebuild found problems: ${JSON.stringify(problems)}`);
  });
  const floorMs = timed(() => {
    const seen = new Set<string>();
    for (let i = 0; i < COUNT; i++) seen.add(`10.50.${i >> 8}.${i & 255}/16`);
  });
  return { allocateMs, churnMs, restoreMs, floorMs };
}

const runs = Array.from({ length: RUNS }, oneRun);
const fmt = (key: keyof ReturnType<typeof oneRun>) =>
  `${median(runs.map((r) => r[key]))
    .toFixed(1)
    .padStart(7)} ms   runs ${runs.map((r) => r[key].toFixed(1)).join(' ')}`;
const goal = (key: keyof ReturnType<typeof oneRun>) =>
  median(runs.map((r) => r[key])) < 200 ? 'met' : 'MISSED';
console.log(
  `allocator: ${COUNT} task addresses on a /16, ${RUNS} fresh runs, medians (goal < 200 ms to allocate, to churn):`,
);
console.log(`  allocate ${COUNT}                ${fmt('allocateMs')}   ${goal('allocateMs')}`);
console.log(`  release + reallocate ${COUNT / 2}     ${fmt('churnMs')}   ${goal('churnMs')}`);
console.log(`  rebuild from ${COUNT} tasks      ${fmt('restoreMs')}`);
console.log(`  reference: ${COUNT} Set inserts   ${fmt('floorMs')}`);
