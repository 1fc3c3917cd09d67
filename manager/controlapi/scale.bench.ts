// Issue 18, fault 1's figures: what one task object costs a manager (heap bytes per task in the store,
// measured with a forced GC before and after adding them), and how long `service ls` (the control
// API's ListServices, as the leader runs it) takes while a service at the replicas cap has every
// task pending, next to the same call on a swarm with no tasks (the reference, same process).
//   node --expose-gc dist/manager/controlapi/scale.bench.js [--tasks N]
import { performance } from 'node:perf_hooks';
import { DEFAULT_MAX_REPLICAS, type Service } from '../../api/objects/index.js';
import { fixture, type ServiceMethod } from './service-test-fixtures.js';
import { newTask } from '../orchestrator/index.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TASKS = arg('--tasks', DEFAULT_MAX_REPLICAS);
const RUNS = 20;
const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

async function listServicesMs(call: (m: ServiceMethod, r: Record<string, unknown>) => Promise<unknown>) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await call('ListServices', {});
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(RUNS / 2)]!, max: times[RUNS - 1]! };
}

async function main(): Promise<void> {
  if (!gc) console.log('(run with node --expose-gc for exact heap figures)');
  const f = await fixture();
  for (let i = 0; i < 20; i++)
    await f.call('CreateService', {
      spec: { name: `small${i}`, task: { image: 'host', command: ['true'] } },
    });
  const empty = await listServicesMs(f.call);

  const { service: wire } = await f.call('CreateService', {
    spec: {
      name: 'huge',
      task: { image: 'host', command: ['sleep', '1000'] },
      replicated: { replicas: TASKS },
    },
  });
  const service = f.store.view((tx) => tx.get('service', wire.id)) as Service;
  const before = heapUsed();
  const now = Date.now();
  for (let from = 0; from < TASKS; from += 400) {
    await f.store.update((tx) => {
      for (let slot = from + 1; slot <= Math.min(TASKS, from + 400); slot++) {
        const t = newTask(service, `t${String(slot).padStart(24, '0')}`, {
          slot,
          nodeId: '',
          desiredState: 'running',
          message: 'created',
          now,
        });
        tx.create('task', {
          ...t,
          status: {
            ...t.status,
            state: 'pending',
            err: 'no suitable node (2 nodes are at the task limit per node)',
          },
        });
      }
    });
  }
  const perTask = (heapUsed() - before) / TASKS;
  const sample = f.store.view((tx) => tx.find('task', 'service', service.id)[0]);
  const huge = await listServicesMs(f.call);

  console.log(`tasks pending:                          ${TASKS}`);
  console.log(
    `heap per task object (store + indexes):  ${(perTask / 1024).toFixed(2)} KiB  (JSON of one task: ${JSON.stringify(sample).length} bytes)`,
  );
  console.log(`heap for the whole service:              ${((perTask * TASKS) / 1024 ** 2).toFixed(1)} MiB`);
  console.log(
    `service ls, ${TASKS} tasks pending:         p50 ${huge.p50.toFixed(1)} ms, max ${huge.max.toFixed(1)} ms  (goal < 1000 ms)`,
  );
  console.log(
    `service ls, same swarm without them:     p50 ${empty.p50.toFixed(1)} ms, max ${empty.max.toFixed(1)} ms  (reference)`,
  );
}

await main();
