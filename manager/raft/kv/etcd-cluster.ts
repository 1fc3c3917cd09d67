// A three-member etcd cluster on loopback for the benchmark, with a minimal v3 gRPC client.
// etcd comes from Debian's etcd-server package; it is installed with apt-get when missing (as root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { findTool } from '../../../lib/exec.js';
import { findUp } from '../transport/proto.js';
import { freePorts } from './cluster.js';
import { ensureDebianTool } from '../../../lib/debian.js';

export function etcdVersion(): string {
  return spawnSync(findTool('etcd'), ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '?';
}

type Unary<Req, Res> = (
  req: Req,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;
interface EtcdStatus {
  header: { memberId: string };
  leader: string;
}
export type EtcdKvClient = grpc.Client & { Put: Unary<{ key: Uint8Array; value: Uint8Array }, unknown> };
type EtcdMaintenanceClient = grpc.Client & { Status: Unary<object, EtcdStatus> };

function loadEtcdProto(): grpc.GrpcObject {
  // Member ids are random 64-bit numbers: keep them as strings so they compare exactly.
  const def = protoLoader.loadSync(findUp(join('manager', 'raft', 'kv', 'etcd-kv.proto')), {
    longs: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(def).etcdserverpb as grpc.GrpcObject;
}

export class EtcdCluster {
  private constructor(
    private readonly root: string,
    readonly clientAddrs: string[],
    private readonly procs: ChildProcess[],
    private readonly pkg: grpc.GrpcObject,
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
    const cluster = new EtcdCluster(root, clientAddrs, procs, loadEtcdProto());
    try {
      await cluster.leaderAddr(20_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  kvClient(addr: string): EtcdKvClient {
    const Kv = this.pkg.KV as grpc.ServiceClientConstructor;
    // The same channel options as the swarmlite client (kv-proto.ts).
    return new Kv(addr, grpc.credentials.createInsecure(), {
      'grpc.enable_channelz': 0,
    }) as unknown as EtcdKvClient;
  }

  /** The client address of the current leader (waits for one to be elected). */
  async leaderAddr(timeoutMs = 10_000): Promise<string> {
    const Maintenance = this.pkg.Maintenance as grpc.ServiceClientConstructor;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const addr of this.clientAddrs) {
        const c = new Maintenance(
          addr,
          grpc.credentials.createInsecure(),
        ) as unknown as EtcdMaintenanceClient;
        const st = await new Promise<EtcdStatus | undefined>((resolve) =>
          c.Status({}, { deadline: Date.now() + 1000 }, (err, res) => resolve(err ? undefined : res)),
        );
        c.close();
        if (st && st.leader !== '0' && st.leader === st.header.memberId) return addr;
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
