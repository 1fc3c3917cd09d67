#!/usr/bin/env node
// Raft write benchmark: a three-member swarmlite KV cluster against a three-member etcd cluster, both
// on loopback, both fsyncing every commit, driven by the same Node client code at 1 and 64 concurrent
// clients, in two client styles: unary gRPC Put (one HTTP/2 channel) and etcd's HTTP/JSON gateway
// shape (POST /v3/kv/put over keep-alive HTTP/1.1). Writes go to the leader. Prints writes/s, p50 and
// p99 latency, and the ratios. Both clusters run side by side and take turns, slice by slice
// (measure()), so that the machine's other load weighs on both alike.
//
//   npm run bench:raft -- [--writes 5000,20000] [--concurrency 1,64] [--value-size 256] [--rounds 10]
//                          [--systems swarmlite,etcd,floor] [--clients grpc,http] [--snapshot-every N]
//                          [--warmup N] [--start-warmup N]
import { parseArgs } from 'node:util';
import { freePorts, KvCluster, startServer, stopServer } from './cluster.js';
import { KvClient } from './kv-client.js';
import { kvCalls, newKvGrpcClient } from './kv-proto.js';
import { grpcClient, httpClient, type BenchClient, type ClientStyle } from './bench-clients.js';
import { EtcdCluster, etcdPut, etcdVersion } from './etcd-cluster.js';
import { combineRuns, runLoad, type LoadResult, type LoadRun } from './bench-load.js';
import {
  breakdown,
  breakdownTable,
  readStages,
  tailTable,
  type Breakdown,
  type StageSums,
} from './bench-breakdown.js';
import { emptyCpu, measureCpu, type CpuSums } from './bench-cpu.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '5000,20000' },
    concurrency: { type: 'string', default: '1,64' },
    'value-size': { type: 'string', default: '256' },
    // floor: the RPC layer alone, no Raft, no disk (floor-server.ts).
    systems: { type: 'string', default: 'swarmlite,etcd,floor' },
    clients: { type: 'string', default: 'grpc,http' },
    warmup: { type: 'string', default: '500' },
    // Writes per client style through every system before anything is measured (see warmUp()).
    'start-warmup': { type: 'string', default: '3000' },
    // Each load is run in this many slices, the systems taking turns (see measure()).
    rounds: { type: 'string', default: '10' },
    // swarmlite's snapshot interval (entries); etcd keeps its default (--snapshot-count 100000).
    'snapshot-every': { type: 'string' },
    // swarmlite's log layouts to run, each as its own system row: lmdb, wal.
    'swarmlite-storage': { type: 'string', default: 'wal' },
  },
});
const concurrencies = values.concurrency.split(',').map(Number);
const writes = values.writes.split(',').map(Number);
const valueSize = Number(values['value-size']);
const warmup = Number(values.warmup);
const startWarmup = Number(values['start-warmup']);
const rounds = Number(values.rounds);
const systemNames = values.systems.split(',');
const styles = values.clients.split(',') as ClientStyle[];
const layouts = values['swarmlite-storage'].split(',');

interface Row {
  system: string;
  style: ClientStyle;
  concurrency: number;
  result: LoadResult;
  /** swarmlite: the leader's per-stage means over the run (breakdown.ts). */
  stages?: Breakdown;
  /** CPU time of the run's slices (bench-cpu.ts). */
  cpu: CpuSums;
}

/** A running cluster under test: how to reach its leader and (swarmlite) read its stage sums. */
interface System {
  name: string;
  connect: (style: ClientStyle, concurrency: number) => Promise<BenchClient>;
  stageSums?: () => Promise<StageSums | undefined>;
  /** The members' pids and the leader's, for CPU per write. */
  pids: () => Promise<{ leader: number | undefined; members: number[] }>;
  stop: () => Promise<void>;
}

/**
 * Brings every system to its steady state before the first measured load: `startWarmup` writes in
 * each client style at each concurrency. A fresh Node process runs its code interpreted until V8 has
 * compiled the hot paths (on its compiler threads, beside the load, on the same two cores); with only
 * the per-load warm-up, the first load measured (gRPC at one client, by default) ran on cold members
 * and paid for it: that load's swarmlite CPU per write was 2x the same load's run later, and which
 * style looked slower followed which style ran first. Warming at the highest concurrency alone was
 * not enough: a Ready there carries dozens of entries, at one client one, and the one-client load
 * that followed still ran colder paths (idle machine, two full runs each: gRPC at one client 0.64x
 * and 0.67x etcd's writes/s after a warm-up at 64 only, 0.84x and 0.80x after this one). etcd
 * (compiled ahead of time) has no such phase; it gets the same writes.
 */
async function warmUp(systems: System[]): Promise<void> {
  if (startWarmup <= 0) return;
  for (const style of styles) {
    for (const concurrency of concurrencies) {
      for (const s of systems) {
        const client = await s.connect(style, concurrency);
        try {
          const prefix = `${s.name}-${style}-c${concurrency}-start-warmup`;
          await runLoad(client.put, { concurrency, writes: startWarmup, valueSize, prefix });
        } finally {
          client.close();
        }
      }
    }
  }
}

/**
 * Runs every client style and concurrency against every system, in turns: each load is split into
 * `rounds` slices and the systems take one slice each per round (the order rotating), so a change in
 * the machine's other load (a CI run beside it) falls on all of them alike. The figures of each
 * system combine its slices: its writes over its own summed time, percentiles over all its writes.
 */
async function measure(systems: System[]): Promise<Row[]> {
  await warmUp(systems);
  const rows: Row[] = [];
  for (const style of styles) {
    for (const [i, concurrency] of concurrencies.entries()) {
      const clients = await Promise.all(systems.map((s) => s.connect(style, concurrency)));
      try {
        const prefix = (s: System): string => `${s.name}-${style}-c${concurrency}`;
        for (const [k, s] of systems.entries()) {
          await runLoad(clients[k]!.put, {
            concurrency,
            writes: warmup,
            valueSize,
            prefix: `${prefix(s)}-warmup`,
          });
        }
        const n = writes[i] ?? writes.at(-1)!;
        const slice = Math.max(concurrency, Math.ceil(n / rounds));
        const runs: LoadRun[][] = systems.map(() => []);
        const cpu = systems.map(() => emptyCpu());
        const pids = await Promise.all(systems.map((s) => s.pids()));
        const before = await Promise.all(systems.map((s) => s.stageSums?.()));
        for (let r = 0; r * slice < n; r++) {
          for (let j = 0; j < systems.length; j++) {
            const k = (j + r) % systems.length;
            const w = Math.min(slice, n - r * slice);
            const p = `${prefix(systems[k]!)}-r${r}`;
            const load = () => runLoad(clients[k]!.put, { concurrency, writes: w, valueSize, prefix: p });
            runs[k]!.push(await measureCpu(cpu[k]!, pids[k]!, load));
          }
        }
        const after = await Promise.all(systems.map((s) => s.stageSums?.()));
        for (const [k, s] of systems.entries()) {
          const result = combineRuns(runs[k]!);
          const b = before[k];
          const a = after[k];
          const stages = b && a ? breakdown(b, a) : undefined;
          console.error(
            `${s.name} ${style} c=${concurrency}: ${result.writes} writes in ${runs[k]!.length} slices, ` +
              `${result.seconds.toFixed(2)} s, ${result.writesPerSec.toFixed(0)}/s, ` +
              `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`,
          );
          rows.push({ system: s.name, style, concurrency, result, stages, cpu: cpu[k]! });
        }
      } finally {
        for (const c of clients) c.close();
      }
    }
  }
  return rows;
}

async function swarmliteLeader(
  cluster: KvCluster,
): Promise<{ addr: string; httpAddr: string; pid: number | undefined }> {
  const admin = new KvClient(cluster.addrs);
  try {
    for (let tries = 0; tries < 100; tries++) {
      for (const m of cluster.members) {
        const st = await admin.status(m.addr).catch(() => undefined);
        if (st?.role === 'leader') return { addr: m.addr, httpAddr: m.httpAddr!, pid: m.proc?.pid };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('swarmlite: no leader elected');
  } finally {
    admin.close();
  }
}

async function startSwarmlite(layout: string): Promise<System> {
  const extraArgs = values['snapshot-every'] ? ['--snapshot-every', values['snapshot-every']] : [];
  extraArgs.push('--storage', layout);
  const cluster = await KvCluster.start(3, { http: true, extraArgs });
  const probe = new KvClient(cluster.addrs);
  return {
    name: layouts.length > 1 ? `swarmlite-${layout}` : 'swarmlite',
    async connect(style, concurrency) {
      const leader = await swarmliteLeader(cluster);
      if (style === 'http') return httpClient(leader.httpAddr, concurrency);
      const client = newKvGrpcClient(leader.addr);
      const calls = kvCalls(client);
      return grpcClient(client, (key, value) => calls.put({ key, value }));
    },
    stageSums: async () => readStages(probe, (await swarmliteLeader(cluster)).addr, cluster.addrs),
    pids: async () => ({
      leader: (await swarmliteLeader(cluster)).pid,
      members: cluster.members.flatMap((m) => (m.proc?.pid ? [m.proc.pid] : [])),
    }),
    async stop() {
      for (const addr of cluster.addrs) {
        const st = await probe.status(addr).catch(() => undefined);
        if (st) console.error(`swarmlite member ${st.id} (${st.role}): ${countersOnly(st.metrics)}`);
      }
      probe.close();
      await cluster.destroy();
    },
  };
}

/** A member's metrics without its histograms (hundreds of bucket counts), for the log. */
function countersOnly(metrics: string): string {
  return JSON.stringify(JSON.parse(metrics) as object, (k: string, v: unknown) =>
    k === 'histograms' || k.endsWith('Histogram') ? undefined : v,
  );
}

async function startEtcd(): Promise<System> {
  const cluster = await EtcdCluster.start(3);
  return {
    name: 'etcd',
    async connect(style, concurrency) {
      const leader = await cluster.leaderAddr();
      if (style === 'http') return httpClient(leader, concurrency);
      const client = cluster.kvClient(leader);
      return grpcClient(client, etcdPut(client));
    },
    pids: async () => ({ leader: cluster.pidOf(await cluster.leaderAddr()), members: cluster.pids }),
    stop: () => cluster.stop(),
  };
}

/**
 * The floor: one process serving the same two write endpoints as a member, answering at once (no
 * Raft, no disk). Its latency is what the client and swarmlite's RPC layer cost alone.
 */
async function startFloor(): Promise<System> {
  const [port, httpPort] = await freePorts(2);
  const addr = `127.0.0.1:${port}`;
  const httpAddr = `127.0.0.1:${httpPort}`;
  const script = join(dirname(fileURLToPath(import.meta.url)), 'floor-server.js');
  const proc = await startServer(script, ['--listen', addr, '--http', httpAddr], 'floor server', []);
  return {
    name: 'floor',
    connect(style, concurrency) {
      if (style === 'http') return Promise.resolve(httpClient(httpAddr, concurrency));
      const client = newKvGrpcClient(addr);
      const calls = kvCalls(client);
      return Promise.resolve(grpcClient(client, (key, value) => calls.put({ key, value })));
    },
    pids: () => Promise.resolve({ leader: proc.pid, members: proc.pid ? [proc.pid] : [] }),
    stop: () => stopServer(proc),
  };
}

function table(rows: Row[]): string {
  const out = [['system', 'client', 'conc', 'writes', 'writes/s', 'p50 ms', 'p99 ms']];
  for (const r of rows) {
    out.push([
      r.system,
      r.style,
      String(r.concurrency),
      String(r.result.writes),
      r.result.writesPerSec.toFixed(0),
      r.result.p50Ms.toFixed(2),
      r.result.p99Ms.toFixed(2),
    ]);
  }
  for (const style of styles) {
    for (const c of concurrencies) {
      const b = rows.find((r) => r.system === 'etcd' && r.style === style && r.concurrency === c);
      for (const a of rows.filter((r) => r.system !== 'etcd' && r.style === style && r.concurrency === c)) {
        if (!b) continue;
        out.push([
          `${a.system}/etcd`,
          style,
          String(c),
          '',
          `${(a.result.writesPerSec / b.result.writesPerSec).toFixed(2)}x`,
          `${(a.result.p50Ms / b.result.p50Ms).toFixed(2)}x`,
          `${(a.result.p99Ms / b.result.p99Ms).toFixed(2)}x`,
        ]);
      }
    }
  }
  const widths = out[0]!.map((_, i) => Math.max(...out.map((r) => r[i]!.length)));
  return out
    .map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
}

function cpuTable(rows: Row[]): string {
  const out = [['system', 'client', 'conc', 'leader', 'all members', 'client']];
  const f = (ms: number, r: Row): string => (ms / r.result.writes).toFixed(3);
  for (const r of rows) {
    out.push([
      r.system,
      r.style,
      String(r.concurrency),
      f(r.cpu.leaderMs, r),
      f(r.cpu.membersMs, r),
      f(r.cpu.clientMs, r),
    ]);
  }
  const widths = out[0]!.map((_, i) => Math.max(...out.map((row) => row[i]!.length)));
  return out
    .map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

async function main(): Promise<void> {
  const running: System[] = [];
  let rows: Row[];
  try {
    if (systemNames.includes('swarmlite')) for (const l of layouts) running.push(await startSwarmlite(l));
    if (systemNames.includes('etcd')) running.push(await startEtcd());
    if (systemNames.includes('floor')) running.push(await startFloor());
    rows = await measure(running);
  } finally {
    for (const s of running) await s.stop();
  }
  console.log(`3 members on 127.0.0.1, ${valueSize}-byte values, fsync on, writes to the leader`);
  if (systemNames.includes('etcd')) console.log(`etcd: ${etcdVersion()}`);
  console.log(table(rows));
  if (systemNames.includes('floor')) {
    console.log(
      'floor: the same client and RPC layer answering at once (floor-server.ts: no Raft, no disk); ' +
        "floor/etcd p50 is the share of etcd's whole write that swarmlite's RPC layer takes before consensus starts",
    );
  }
  if (rows.some((r) => r.stages)) {
    console.log(
      '\none write on the swarmlite leader, mean ms per stage (bench-breakdown.ts; client mean: the whole round trip)',
    );
    console.log(breakdownTable(rows));
    console.log('\nthe same, p99 ms per stage (replicate: appended -> quorum; server: propose -> applied)');
    console.log(tailTable(rows));
  }
  console.log('\nCPU ms per write (bench-cpu.ts: utime+stime of the slices; client: the bench process)');
  console.log(cpuTable(rows));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
