#!/usr/bin/env node
// Raft write benchmark: a three-member swarmlite KV cluster against a three-member etcd cluster, both
// on loopback, both fsyncing every commit, driven by the same Node client code at 1 and 64 concurrent
// clients, in two client styles: unary gRPC Put (one HTTP/2 channel) and etcd's HTTP/JSON gateway
// shape (POST /v3/kv/put over keep-alive HTTP/1.1). Writes go to the leader. Prints writes/s, p50 and
// p99 latency, and the ratios.
//
//   npm run bench:raft -- [--writes 5000,20000] [--concurrency 1,64] [--value-size 256]
//                          [--systems swarmlite,etcd] [--clients grpc,http] [--snapshot-every N]
import { parseArgs } from 'node:util';
import { KvCluster } from './cluster.js';
import { KvClient } from './kv-client.js';
import { kvCalls, newKvGrpcClient } from './kv-proto.js';
import { grpcClient, httpClient, type BenchClient, type ClientStyle } from './bench-clients.js';
import { EtcdCluster, etcdPut, etcdVersion } from './etcd-cluster.js';
import { runLoad, type LoadResult } from './bench-load.js';
import { breakdown, breakdownTable, readStages, type Breakdown, type StageSums } from './bench-breakdown.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '5000,20000' },
    concurrency: { type: 'string', default: '1,64' },
    'value-size': { type: 'string', default: '256' },
    systems: { type: 'string', default: 'swarmlite,etcd' },
    clients: { type: 'string', default: 'grpc,http' },
    warmup: { type: 'string', default: '500' },
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
const systems = values.systems.split(',');
const styles = values.clients.split(',') as ClientStyle[];
const layouts = values['swarmlite-storage'].split(',');

interface Row {
  system: string;
  style: ClientStyle;
  concurrency: number;
  result: LoadResult;
  /** swarmlite: the leader's per-stage means over the run (breakdown.ts). */
  stages?: Breakdown;
}

/** Runs every client style and concurrency against one cluster; `connect` opens a client to its leader. */
async function measure(
  system: string,
  connect: (style: ClientStyle, concurrency: number) => Promise<BenchClient>,
  stageSums?: () => Promise<StageSums | undefined>,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const style of styles) {
    for (const [i, concurrency] of concurrencies.entries()) {
      const client = await connect(style, concurrency);
      try {
        const prefix = `${system}-${style}-c${concurrency}`;
        await runLoad(client.put, { concurrency, writes: warmup, valueSize, prefix: `${prefix}-warmup` });
        const n = writes[i] ?? writes.at(-1)!;
        const before = await stageSums?.();
        const result = await runLoad(client.put, { concurrency, writes: n, valueSize, prefix });
        const after = await stageSums?.();
        const stages = before && after ? breakdown(before, after) : undefined;
        console.error(
          `${system} ${style} c=${concurrency}: ${n} writes in ${result.seconds.toFixed(2)} s, ` +
            `${result.writesPerSec.toFixed(0)}/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`,
        );
        rows.push({ system, style, concurrency, result, stages });
      } finally {
        client.close();
      }
    }
  }
  return rows;
}

async function swarmliteLeader(cluster: KvCluster): Promise<{ addr: string; httpAddr: string }> {
  const admin = new KvClient(cluster.addrs);
  try {
    for (let tries = 0; tries < 100; tries++) {
      for (const m of cluster.members) {
        const st = await admin.status(m.addr).catch(() => undefined);
        if (st?.role === 'leader') return { addr: m.addr, httpAddr: m.httpAddr! };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('swarmlite: no leader elected');
  } finally {
    admin.close();
  }
}

async function benchSwarmlite(layout: string): Promise<Row[]> {
  const extraArgs = values['snapshot-every'] ? ['--snapshot-every', values['snapshot-every']] : [];
  extraArgs.push('--storage', layout);
  const cluster = await KvCluster.start(3, { http: true, extraArgs });
  const system = layouts.length > 1 ? `swarmlite-${layout}` : 'swarmlite';
  const probe = new KvClient(cluster.addrs);
  try {
    return await measure(
      system,
      async (style, concurrency) => {
        const leader = await swarmliteLeader(cluster);
        if (style === 'http') return httpClient(leader.httpAddr, concurrency);
        const client = newKvGrpcClient(leader.addr);
        const calls = kvCalls(client);
        return grpcClient(client, (key, value) => calls.put({ key, value }));
      },
      async () => readStages(probe, (await swarmliteLeader(cluster)).addr, cluster.addrs),
    );
  } finally {
    for (const addr of cluster.addrs) {
      const st = await probe.status(addr).catch(() => undefined);
      if (st) console.error(`swarmlite member ${st.id} (${st.role}): ${st.metrics}`);
    }
    probe.close();
    await cluster.destroy();
  }
}

async function benchEtcd(): Promise<Row[]> {
  const cluster = await EtcdCluster.start(3);
  try {
    return await measure('etcd', async (style, concurrency) => {
      const leader = await cluster.leaderAddr();
      if (style === 'http') return httpClient(leader, concurrency);
      const client = cluster.kvClient(leader);
      return grpcClient(client, etcdPut(client));
    });
  } finally {
    await cluster.stop();
  }
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
      for (const a of rows.filter(
        (r) => r.system.startsWith('swarmlite') && r.style === style && r.concurrency === c,
      )) {
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

async function main(): Promise<void> {
  const rows: Row[] = [];
  if (systems.includes('swarmlite'))
    for (const layout of layouts) rows.push(...(await benchSwarmlite(layout)));
  if (systems.includes('etcd')) rows.push(...(await benchEtcd()));
  console.log(`3 members on 127.0.0.1, ${valueSize}-byte values, fsync on, writes to the leader`);
  if (systems.includes('etcd')) console.log(`etcd: ${etcdVersion()}`);
  console.log(table(rows));
  if (rows.some((r) => r.stages)) {
    console.log(
      '\none write on the swarmlite leader, mean ms per stage (bench-breakdown.ts; client mean: the whole round trip)',
    );
    console.log(breakdownTable(rows));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
