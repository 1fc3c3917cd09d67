// A three-member etcd cluster on loopback for the benchmark, with a minimal v3 gRPC client.
// etcd comes from Debian's etcd-server package; it is installed with apt-get when missing (as root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { unaryCalls } from '../../../api/calls.js';
import { findTool } from '../../../lib/exec.js';
import { freePorts } from './cluster.js';
import { etcdServices, type EtcdKvClient } from './kv-proto.js';
import { ensureDebianTool } from '../../../lib/debian.js';

export function etcdVersion(): string {
  return spawnSync(findTool('etcd'), ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '?';
}

/** etcd's `KV.Put` on `client`'s channel, typed by etcd-kv.proto: keys are bytes in etcd. */
export function etcdPut(client: EtcdKvClient): (key: string, value: Uint8Array) => Promise<unknown> {
  const calls = unaryCalls(client, etcdServices().KV.service);
  return (key, value) => calls.put({ key: Buffer.from(key), value });
}

export class EtcdCluster {
  private constructor(
    private readonly root: string,
    readonly clientAddrs: string[],
    private readonly procs: ChildProcess[],
  ) {}

  static async start(size = 3, host = '127.0.0.1'): Promise<EtcdCluster> {
    const etcd = await ensureDebianTool('etcd', 'etcd-server');
    const root = await mkdtemp(join(tmpdir(), 'swarmlite-etcd-'));
    const ports = await freePorts(2 * size, host);
    const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
    const peerUrl = (i: number) => `http://${host}:${ports[2 * i + 1]}`;
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    const clientAddrs = names.map((_, i) => `${host}:${ports[2 * i]}`);
    const procs = names.map((name, i) =>
      spawn(
        etcd,
        [
          `--name=${name}`,
          `--data-dir=${join(root, name)}`,
          `--listen-client-urls=http://${clientAddrs[i]}`,
          `--advertise-client-urls=http://${clientAddrs[i]}`,
          `--listen-peer-urls=${peerUrl(i)}`,
          `--initial-advertise-peer-urls=${peerUrl(i)}`,
          `--initial-cluster=${initialCluster}`,
          '--initial-cluster-state=new',
          '--initial-cluster-token=swarmlite-bench',
          '--logger=zap',
          '--log-level=error',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      ),
    );
    const cluster = new EtcdCluster(root, clientAddrs, procs);
    try {
      await cluster.leaderAddr(20_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  kvClient(addr: string): EtcdKvClient {
    const { KV } = etcdServices();
    // The same channel options as the swarmlite client (kv-proto.ts).
    return new KV(addr, grpc.credentials.createInsecure(), { 'grpc.enable_channelz': 0 });
  }

  /** The members' pids, in the order of `clientAddrs`. */
  get pids(): number[] {
    return this.procs.flatMap((p) => (p.pid ? [p.pid] : []));
  }

  /** The pid of the member serving clients at `addr`. */
  pidOf(addr: string): number | undefined {
    return this.procs[this.clientAddrs.indexOf(addr)]?.pid;
  }

  /** The client address of the current leader (waits for one to be elected). */
  async leaderAddr(timeoutMs = 10_000): Promise<string> {
    const { Maintenance } = etcdServices();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const addr of this.clientAddrs) {
        const c = new Maintenance(addr, grpc.credentials.createInsecure());
        const st = await unaryCalls(c, Maintenance.service)
          .status({}, 1_000)
          .catch(() => undefined);
        c.close();
        if (st && st.leader !== '0' && st.leader === st.header?.memberId) return addr;
      }
      if (Date.now() > deadline) throw new Error('etcd: no leader elected');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops every member by pid and removes the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null || !p.pid) return;
        const gone = new Promise((r) => p.once('exit', r));
        process.kill(p.pid, 'SIGTERM');
        const timer = setTimeout(() => p.pid && process.kill(p.pid, 'SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }),
    );
    await rm(this.root, { recursive: true, force: true });
  }
}
