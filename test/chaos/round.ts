// One chaos round: a fresh lab (3 managers + 2 workers, real daemons and task processes), a service
// workload and KV clients running while the round's seeded faults are injected one after another, then
// the checks, then teardown and the leftover check. Everything random comes from the seed, so a failed
// round is replayed with the seed it prints (timing on a real machine varies; the schedule does not).
import { randomBytes } from 'node:crypto';
import { labDown, labUp } from '../../deploy/lab/lab.js';
import type { LabState } from '../../deploy/lab/state.js';
import { checkLinearizable, type KvOp } from '../../lib/linearizability.js';
import { Prng } from '../../lib/prng.js';
import type { ProcessRef } from '../../lib/process.js';
import { leftovers, serviceProblems, slotsRunning } from './checks.js';
import { Daemons, faultSchedule, findLeader, inject, type FaultKind } from './faults.js';
import { createKvKeys, finalReads, lostWrites, runKvClient, type KvStats } from './kv.js';
import { runWorkload, type ServiceRecord, type WorkloadStats } from './workload.js';

export interface RoundOptions {
  seed: number;
  faults: number;
  /** Range of a fault's duration. */
  holdMs: [number, number];
  /** Quiet time between a healed fault and the next one. */
  gapMs: [number, number];
  kvClients: number;
  /** Deadline for the cluster to converge after the last fault (generous: a loaded machine). */
  convergeMs: number;
  say: (line: string) => void;
  /** Told the lab's name before it is built (so an interrupted run can take it down). */
  onLab?: (name: string) => void;
}

export interface RoundResult {
  seed: number;
  lab: string;
  injected: Record<FaultKind, number>;
  kv: KvStats & { ops: number; keys: number };
  workload: WorkloadStats & { services: number };
  taskProcesses: number;
  seconds: number;
}

const KEYS = ['a', 'b', 'c'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 'x' + 7 random base-36 characters: a lab name no other run picks. */
const labName = () => 'x' + randomBytes(5).readUIntBE(0, 5).toString(36).padStart(7, '0').slice(-7);

export class RoundFailure extends Error {
  constructor(
    readonly seed: number,
    message: string,
  ) {
    super(`chaos round with seed ${seed} failed (replay: --seed ${seed}): ${message}`);
  }
}

export async function chaosRound(o: RoundOptions): Promise<RoundResult> {
  const started = Date.now();
  const name = labName();
  const rng = new Prng(o.seed);
  const schedule = faultSchedule(rng.fork(), o.faults, o.holdMs);
  const gaps = rng.fork();
  o.say(`round seed ${o.seed}: lab ${name}, faults ${schedule.map((f) => f.kind).join(', ')}`);
  let lab: LabState | undefined;
  let daemons: Daemons | undefined;
  const taskPids: ProcessRef[] = [];
  let result: RoundResult | undefined;
  let failure: unknown;
  o.onLab?.(name);
  try {
    lab = await labUp({ name, nodes: 5, managers: 3 });
    daemons = new Daemons(lab);
    const managers = lab.hosts.slice(0, 3);
    await createKvKeys(managers[0]!, KEYS);

    const history: KvOp[] = [];
    const acked: { key: string; value: string }[] = [];
    const kvStats: KvStats = { reads: 0, readsFailed: 0, writesAcked: 0, writesPending: 0, errors: {} };
    const wStats: WorkloadStats = { creates: 0, scales: 0, updates: 0, acked: 0, failed: 0, errors: {} };
    const services: ServiceRecord[] = [];
    let running = true;
    const clients = Array.from({ length: o.kvClients }, (_, i) =>
      runKvClient({
        clientId: i,
        keys: KEYS,
        managers,
        rng: rng.fork(),
        history,
        stats: kvStats,
        acked,
        running: () => running,
      }),
    );
    const workload = runWorkload({
      managers,
      rng: rng.fork(),
      services,
      maxServices: 3,
      stats: wStats,
      running: () => running,
    });

    const injected = Object.fromEntries(schedule.map((f) => [f.kind, 0])) as Record<FaultKind, number>;
    try {
      for (const fault of schedule) {
        await sleep(gaps.int(o.gapMs[0], o.gapMs[1]));
        o.say(`  ${await inject(lab, daemons, fault)}`);
        injected[fault.kind]++;
        // The next fault starts from a cluster that has a leader again.
        await findLeader(managers, o.convergeMs);
      }
      await sleep(gaps.int(o.gapMs[0], o.gapMs[1]));
    } finally {
      running = false;
      await Promise.all([...clients, workload]);
    }

    const top = (errors: Record<string, number>) =>
      Object.entries(errors)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([what, n]) => `${n}× ${what}`)
        .join(' | ') || 'none';
    o.say(`  KV calls failed (during faults): ${top(kvStats.errors)}`);
    o.say(`  service writes failed: ${top(wStats.errors)}`);
    const finals = await finalReads(managers, KEYS, history, o.convergeMs);
    const lost = lostWrites(acked, history, finals);
    if (lost.length > 0) throw new Error(`acknowledged writes lost: ${JSON.stringify(lost)}`);
    const lin = checkLinearizable(history);
    if (!lin.ok) throw new Error(`the KV history is not linearizable: ${lin.reason}`);

    const deadline = Date.now() + o.convergeMs;
    let problems: string[] = [];
    let slots = { processes: 0, doubles: [] as string[], pids: [] as ProcessRef[] };
    for (;;) {
      const leader = await findLeader(managers, o.convergeMs);
      problems = await serviceProblems(leader, services).catch((e: Error) => [e.message]);
      slots = await slotsRunning(lab, leader).catch((e: Error) => ({ ...slots, doubles: [e.message] }));
      taskPids.push(...slots.pids);
      if (problems.length === 0 && slots.doubles.length === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `not converged within ${o.convergeMs} ms after the faults: ${[...problems, ...slots.doubles.map((d) => `slot running twice: ${d}`)].join('; ')}`,
        );
      }
      await sleep(500);
    }
    result = {
      seed: o.seed,
      lab: name,
      injected,
      kv: { ...kvStats, ops: history.filter((op) => op.ret !== Infinity).length, keys: KEYS.length },
      workload: { ...wStats, services: services.filter((s) => s.acked).length },
      taskProcesses: slots.processes,
      seconds: 0,
    };
    o.say(
      `  checked: ${acked.length} acknowledged KV writes present, ${result.kv.ops} completed KV ops ` +
        `linearizable (${history.length - result.kv.ops} pending), ${result.workload.services} services ` +
        `converged, ${slots.processes} task processes, no slot twice`,
    );
  } catch (err) {
    failure = err;
  }
  // Teardown always; then nothing of the lab may remain.
  await labDown(name).catch((err: Error) => (failure ??= err));
  const left = await leftovers(
    lab ?? { name, subnetIndex: 0, nodes: 0, managers: 0, createdAt: '', hosts: [] },
    [...(daemons?.started ?? []), ...taskPids],
  );
  if (left.length > 0) failure ??= new Error(`left after teardown: ${left.join('; ')}`);
  if (failure) throw new RoundFailure(o.seed, failure instanceof Error ? failure.message : String(failure));
  o.say(`  teardown: no namespace, mount, process or nftables table of ${name} left`);
  result!.seconds = Math.round((Date.now() - started) / 1000);
  return result!;
}
