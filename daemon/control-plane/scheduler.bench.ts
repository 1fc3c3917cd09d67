#!/usr/bin/env node
// The services issue's scheduler benchmark through the real control plane: three manager processes
// (bench-member.ts: RaftNode on LMDB + store, controllers on the leader), 1,000 node objects, and one
// 10,000-replica service created with a store write. Prints the time from the create until every task
// is assigned (and, with --agents, running on 1,000 in-process agents with the simulated executor), the
// leader's peak RSS and the followers' catch-up, next to the issue's goals and next to the pure
// scheduleBatch over the same nodes and tasks measured in the same leader process.
//
//   node dist/daemon/control-plane/scheduler.bench.js [--nodes 1000] [--replicas 10000] [--agents] [--runs 3]
//                                                   [--cpu-prof DIR]
// Each run is a fresh cluster; the full report is the median run's (by time to all assigned). With
// --cpu-prof every member writes a V8 profile to DIR and the median leader's is summarized.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { NodeMetrics } from '../../manager/testing.js';
import { freePorts } from '../../test/support.js';
import { MemberClient } from './bench-ipc.js';
import { breakdown } from './bench-profile.js';
import type { Phases, Reference } from './bench-workload.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    replicas: { type: 'string', default: '10000' },
    agents: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
  },
});
const NODES = Number(values.nodes);
const REPLICAS = Number(values.replicas);
const RUNS = Number(values.runs);
const MEMBER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'bench-member.js');
const MiB = 1024 ** 2;
const GOAL_MS = 2_000;
const GOAL_RSS = 1024 * MiB;

interface Status {
  id: number;
  pid: number;
  leader: boolean;
  applied: number;
  maxRssBytes: number;
  rssBytes: number;
  raft: NodeMetrics;
}

interface Member {
  id: number;
  proc: ChildProcess;
  client: MemberClient;
}

/**
 * Forks the three members into `members` as each is forked (so the caller stops every one of them, even
 * when another fails to start), then waits until all serve.
 */
async function startMembers(root: string, members: Member[]): Promise<void> {
  const ports = await freePorts(3);
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  const profArgs = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [];
  const ready = ports.map((port, i) => {
    const id = i + 1;
    const args = ['--id', String(id), '--listen', `127.0.0.1:${port}`, '--peers', peers];
    args.push('--data', join(root, `member-${id}`));
    const proc = fork(MEMBER_SCRIPT, args, { execArgv: ['--enable-source-maps', ...profArgs] });
    members.push({ id, proc, client: new MemberClient(proc) });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`member ${id} did not start`)), 20_000);
      proc.once('exit', (code) => reject(new Error(`member ${id} exited with ${code}`)));
      proc.on('message', (m: { ready?: boolean }) => {
        if (!m.ready) return;
        clearTimeout(timer);
        resolve();
      });
    });
  });
  for (const r of ready) r.catch(() => {}); // the first failure is thrown below; the rest are expected
  await Promise.all(ready);
}

/** SIGTERM by pid (members stop Raft and exit, writing any CPU profile); SIGKILL after 5 s. */
async function stopMembers(members: Member[]): Promise<void> {
  await Promise.all(
    members.map(async ({ proc }) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      process.kill(proc.pid!, 'SIGTERM');
      const timer = setTimeout(() => proc.pid && process.kill(proc.pid, 'SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }),
  );
}

const status = (m: Member) => m.client.call<Status>('status');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RUN_TIMEOUT_MS = 120_000;

/** A run that hangs (a member stuck, a watch that never completes) fails instead of blocking. */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function findLeader(members: Member[]): Promise<Member> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    for (const m of members) if ((await status(m)).leader) return m;
    await sleep(50);
  }
  throw new Error('no leader elected');
}

/** ms until every follower has applied `index`, polled from the moment this is called. */
async function followersCatchUp(followers: Member[], index: number): Promise<number> {
  const start = performance.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const applied = await Promise.all(followers.map(async (f) => (await status(f)).applied));
    if (applied.every((a) => a >= index)) return performance.now() - start;
    if (Date.now() > deadline) throw new Error(`followers stuck at ${applied.join(', ')} < ${index}`);
    await sleep(10);
  }
}

interface Outcome {
  run: { created: { index: number; commitMs: number }; phases: Phases };
  catchUpMs: number;
  /** The followers' CPU time from the create until they had every task assigned. */
  followersCpuMs: number[];
  ref: Reference;
  leader: Status;
  followers: Status[];
  setupMs: number;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const mib = (x: number) => `${(x / MiB).toFixed(0)} MiB`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

function report({ run, catchUpMs, followersCpuMs, ref, leader, followers, setupMs }: Outcome): void {
  const p = run.phases;
  const w = (s: string) => s.padEnd(44);
  console.log(
    `scheduler through the control plane: ${NODES} nodes, one ${REPLICAS}-replica service, ` +
      `3 managers on 127.0.0.1 (Raft on its WAL, fsync on), controllers on leader ${leader.id}`,
  );
  console.log(`  setup (cluster, ingress, ${NODES} nodes${values.agents ? ', agents' : ''}): ${ms(setupMs)}`);
  console.log(`${w('  service create committed')}${ms(run.created.commitMs)} (index ${run.created.index})`);
  console.log(`${w('  all tasks created (orchestrator)')}${ms(p.createdMs)}`);
  console.log(`${w('  all tasks pending (allocator)')}${ms(p.pendingMs)}`);
  const assigned = p.assignedMs;
  console.log(
    `${w('  all tasks assigned (scheduler)')}${ms(assigned)}   goal < ${ms(GOAL_MS)}: ${verdict(assigned < GOAL_MS)}`,
  );
  console.log(`${w('    ... of which after the create committed')}${ms(assigned - run.created.commitMs)}`);
  console.log(
    `${w('    leader CPU until then (all threads)')}${ms(p.cpuToAssignedMs)}` +
      (followersCpuMs.length ? `; followers ${followersCpuMs.map(ms).join(', ')}` : ''),
  );
  if (p.runningMs !== undefined)
    console.log(`${w('  all tasks running (1 agent per node)')}${ms(p.runningMs)}`);
  console.log(
    `${w('  last follower had every task assigned')}${catchUpMs >= 0 ? '+' : ''}${ms(catchUpMs)} after the leader (index ${p.assignedIndex})`,
  );
  console.log(
    `${w('  tasks per node')}min ${p.tasksPerNode.min}, max ${p.tasksPerNode.max} on ${p.nodesUsed} nodes`,
  );
  console.log(
    `${w('  leader peak RSS')}${mib(p.maxRssBytes)}   goal < ${mib(GOAL_RSS)}: ${verdict(p.maxRssBytes < GOAL_RSS)}`,
  );
  console.log(`${w('  followers peak RSS')}${followers.map((f) => mib(f.maxRssBytes)).join(', ')}`);
  const r = leader.raft;
  console.log(
    `${w('  leader Raft')}${r.syncedWrites} synced writes (${ms(r.syncedWriteMs)} waiting on fsync), ` +
      `${r.entriesWritten} entries`,
  );
  console.log(
    `reference, same leader process: pure scheduleBatch over the same ${ref.nodes} nodes and ${ref.tasks} tasks`,
  );
  console.log(`${w('  one pass')}median ${ms(ref.medianMs)}, best ${ms(ref.bestMs)} (placed ${ref.placed})`);
  console.log(
    `${w('  control plane / pure scheduler')}${(assigned / ref.medianMs).toFixed(1)}x ` +
      `(Raft commits, store apply and watches, allocator and orchestrator passes, debounce)`,
  );
}

/** The leader's CPU during the measurement, by category (its profile is written when it exits). */
async function printProfile(dir: string, pid: number, windowUs: [number, number]): Promise<void> {
  const name = (await readdir(dir)).find((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
  if (!name) return console.log(`no CPU profile of the leader (pid ${pid}) in ${dir}`);
  const { totalMs, rows } = await breakdown(join(dir, name), ...windowUs);
  console.log(`leader CPU during the measurement (${ms(totalMs)} of samples; ${join(dir, name)}):`);
  for (const r of rows)
    console.log(
      `  ${ms(r.ms).padStart(8)}  ${((100 * r.ms) / totalMs).toFixed(0).padStart(3)}%  ${r.category}`,
    );
}

/** One fresh cluster (new processes, new LMDB dirs), one service; everything is removed afterwards. */
async function oneRun(): Promise<Outcome> {
  const root = await mkdtemp(join(tmpdir(), 'swarmlite-bench-sched-'));
  const members: Member[] = [];
  try {
    await startMembers(root, members);
    const leader = await findLeader(members);
    const followers = members.filter((m) => m !== leader);
    const setupStart = performance.now();
    const { index } = await leader.client.call<{ index: number }>('init', { nodes: NODES });
    if (values.agents) await leader.client.call('agents');
    await followersCatchUp(followers, index);
    // Let the controllers' passes over the new nodes finish: the measurement starts from quiet.
    await sleep(500);
    const setupMs = performance.now() - setupStart;
    // Followers time the same service from their own applies; status() round trips make sure their
    // watches are in place (IPC messages are handled in order) before the leader creates the service.
    const observed = followers.map((f) => f.client.call<Phases>('observe', { replicas: REPLICAS }));
    for (const o of observed) o.catch(() => {}); // awaited below; a failed run must not leave them unhandled
    await Promise.all(followers.map(status));
    const run = await within(
      leader.client.call<Outcome['run']>('run', { replicas: REPLICAS, agents: values.agents }),
      'the leader',
    );
    const seen = await within(Promise.all(observed), 'the followers');
    const lastFollower = Math.max(...seen.map((p) => p.assignedAtEpochMs));
    const followersCpuMs = seen.map((p) => p.cpuToAssignedMs);
    const catchUpMs = lastFollower - run.phases.assignedAtEpochMs;
    const [leaderStatus, ...followerStatus] = await Promise.all([leader, ...followers].map(status));
    const ref = await leader.client.call<Reference>('reference');
    return { run, catchUpMs, followersCpuMs, ref, leader: leaderStatus!, followers: followerStatus, setupMs };
  } finally {
    await stopMembers(members);
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const outcomes: Outcome[] = [];
  for (let i = 0; i < RUNS; i++) {
    const o = await oneRun();
    const p = o.run.phases;
    console.log(
      `run ${i + 1}/${RUNS}: created ${ms(p.createdMs)}, pending ${ms(p.pendingMs)}, assigned ${ms(p.assignedMs)}` +
        (p.runningMs === undefined ? '' : `, running ${ms(p.runningMs)}`) +
        `; leader CPU ${ms(p.cpuToAssignedMs)}; leader peak RSS ${mib(p.maxRssBytes)}` +
        `; pure scheduleBatch ${ms(o.ref.medianMs)}`,
    );
    outcomes.push(o);
  }
  outcomes.sort((a, b) => a.run.phases.assignedMs - b.run.phases.assignedMs);
  const median = outcomes[Math.floor(outcomes.length / 2)]!;
  console.log(`median run (by time to all assigned):`);
  report(median);
  console.log(
    `caveats: ${cpus().length} CPUs shared by the 3 managers and this driver, and by whatever else runs ` +
      `(load average ${loadBefore[0]!.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after); LMDB fsync on ` +
      `whatever /tmp is; followers on the same CPUs as the leader (a real swarm gives each its own). ` +
      `On a loaded machine, compare the leader's CPU time until all assigned across runs: load disturbs it least.`,
  );
  const dir = values['cpu-prof'];
  if (dir) await printProfile(dir, median.leader.pid, median.run.phases.windowUs);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
