#!/usr/bin/env node
// Raft write benchmark: a three-member swarmlite KV cluster against a three-member etcd cluster, both
// on loopback, both fsyncing every commit, driven by the same Node gRPC client code (unary Put on one
// HTTP/2 channel to the leader) at 1 and 64 concurrent clients. Prints writes/s, p50 and p99 latency.
//
//   node dist/bench/raft/raft-vs-etcd.js [--writes 5000,20000] [--concurrency 1,64] [--value-size 256]
//                                        [--systems swarmlite,etcd]
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { KvCluster } from '../../test/raft/kv/cluster.js';
import { newKvGrpcClient } from '../../test/raft/kv/kv-proto.js';
import { KvClient } from '../../test/raft/kv/kv-client.js';
import { EtcdCluster, etcdVersion } from './etcd-cluster.js';
import { runLoad, type LoadResult, type PutFn } from './load.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '5000,20000' },
    concurrency: { type: 'string', default: '1,64' },
    'value-size': { type: 'string', default: '256' },
    systems: { type: 'string', default: 'swarmlite,etcd' },
    warmup: { type: 'string', default: '500' },
  },
});
const concurrencies = values.concurrency.split(',').map(Number);
const writes = values.writes.split(',').map(Number);
const valueSize = Number(values['value-size']);
const warmup = Number(values.warmup);
const systems = values.systems.split(',');

function unaryPut(client: grpc.Client, method: 'Put', keyAsBytes: boolean): PutFn {
  const fn = (client as unknown as Record<string, (r: unknown, cb: (e: Error | null) => void) => void>)[
    method
  ]!;
  return (key, value) =>
    new Promise((resolve, reject) =>
      fn.call(client, { key: keyAsBytes ? Buffer.from(key) : key, value }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
}

async function measure(name: string, put: PutFn): Promise<Map<number, LoadResult>> {
  const results = new Map<number, LoadResult>();
  await runLoad(put, { concurrency: 16, writes: warmup, valueSize, prefix: `${name}-warmup` });
  for (const [i, concurrency] of concurrencies.entries()) {
    const n = writes[i] ?? writes.at(-1)!;
    const r = await runLoad(put, { concurrency, writes: n, valueSize, prefix: `${name}-c${concurrency}` });
    console.error(
      `${name} c=${concurrency}: ${n} writes in ${r.seconds.toFixed(2)} s, ${r.writesPerSec.toFixed(0)}/s, ` +
        `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`,
    );
    results.set(concurrency, r);
  }
  return results;
}

async function benchSwarmlite(): Promise<Map<number, LoadResult>> {
  const cluster = await KvCluster.start(3);
  try {
    const admin = new KvClient(cluster.addrs);
    let leader = '';
    for (let tries = 0; !leader && tries < 100; tries++) {
      for (const addr of cluster.addrs) {
        const st = await admin.status(addr).catch(() => undefined);
        if (st?.role === 'leader') leader = addr;
      }
      if (!leader) await new Promise((r) => setTimeout(r, 100));
    }
    admin.close();
    if (!leader) throw new Error('swarmlite: no leader elected');
    const client = newKvGrpcClient(leader);
    try {
      return await measure('swarmlite', unaryPut(client, 'Put', false));
    } finally {
      client.close();
      const probe = new KvClient(cluster.addrs);
      for (const addr of cluster.addrs) {
        const st = await probe.status(addr).catch(() => undefined);
        if (st) console.error(`swarmlite member ${st.id} (${st.role}): ${st.metrics}`);
      }
      probe.close();
    }
  } finally {
    await cluster.destroy();
  }
}

async function benchEtcd(): Promise<Map<number, LoadResult>> {
  const cluster = await EtcdCluster.start(3);
  try {
    const client = cluster.kvClient(await cluster.leaderAddr());
    try {
      return await measure('etcd', unaryPut(client, 'Put', true));
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
  }
}

function table(results: Map<string, Map<number, LoadResult>>): string {
  const rows = [['system', 'clients', 'writes', 'writes/s', 'p50 ms', 'p99 ms']];
  for (const [system, byC] of results) {
    for (const [c, r] of byC) {
      rows.push([
        system,
        String(c),
        String(r.writes),
        r.writesPerSec.toFixed(0),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
      ]);
    }
  }
  const sw = results.get('swarmlite');
  const et = results.get('etcd');
  if (sw && et) {
    for (const c of concurrencies) {
      const a = sw.get(c);
      const b = et.get(c);
      if (!a || !b) continue;
      rows.push([
        'swarmlite/etcd',
        String(c),
        '',
        (a.writesPerSec / b.writesPerSec).toFixed(2) + 'x',
        (a.p50Ms / b.p50Ms).toFixed(2) + 'x',
        (a.p99Ms / b.p99Ms).toFixed(2) + 'x',
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
}

async function main(): Promise<void> {
  const results = new Map<string, Map<number, LoadResult>>();
  if (systems.includes('swarmlite')) results.set('swarmlite', await benchSwarmlite());
  if (systems.includes('etcd')) results.set('etcd', await benchEtcd());
  console.log(`3 members on loopback, ${valueSize}-byte values, fsync on, unary gRPC Put to the leader`);
  if (systems.includes('etcd')) console.log(`etcd: ${etcdVersion()}`);
  console.log(table(results));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
