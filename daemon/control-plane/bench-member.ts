// One manager of the scheduler benchmark's cluster, in its own process (forked by cluster.ts with an IPC
// channel): a RaftNode on LMDB whose state machine is the store, wired as Manager.startServices wires
// them, and the leader's controllers started and stopped with leadership, as Manager.onRole does. What
// is left out is the manager's gRPC services (control API, dispatcher, CA) and mTLS: Raft runs over
// plain gRPC on 127.0.0.1. The driver sends it requests (bench-ipc.ts); the leader does the work.
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { createLogger, type LogLevel } from '../../lib/log.js';
import {
  AllocatorController,
  openRaftNode,
  OrchestratorController,
  Role,
  SchedulerController,
  Store,
  swarmSchema,
  type RaftNode,
} from '../../manager/testing.js';
import { type SwarmObjects } from '../../api/objects/index.js';
import { CLUSTER_ID } from './cluster.js';
import { serve, type Handlers } from './bench-ipc.js';
import { attachAgents } from './bench-agents.js';
import { createService, initCluster, referencePass, watchService } from './bench-workload.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    listen: { type: 'string' },
    peers: { type: 'string' },
    data: { type: 'string' },
  },
});
const id = Number(values.id);
const peers = values.peers!.split(',').map((p) => {
  const [pid, addr] = p.split('=');
  return { id: Number(pid), addr: addr! };
});

async function main(): Promise<void> {
  const log = createLogger((process.env.SWARMLITE_BENCH_LOG as LogLevel | undefined) ?? 'warn');
  const ref: { node?: RaftNode } = {};
  const store = new Store<SwarmObjects>({
    schema: swarmSchema,
    proposer: { propose: (data) => ref.node!.propose(data) },
    logger: log.child({ component: 'store' }),
  });
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  const node = (ref.node = await openRaftNode({
    id,
    dataDir: values.data!,
    stateMachine: store,
    transport: { server, advertiseAddr: values.listen! },
    bootstrap: peers,
    requestTimeoutMs: 10_000,
  }));
  node.on('fatal', (err) => {
    console.error(`member ${id}: fatal: ${(err as Error).stack}`);
    process.exit(1);
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(values.listen!, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );

  // The same three controllers Manager builds, started only while this member leads.
  const controllers = [
    new AllocatorController({ store, clusterId: CLUSTER_ID, log }),
    new OrchestratorController({ store, log }),
    new SchedulerController({ store, log }),
  ];
  let leading = false;
  const onRole = (role: Role): void => {
    const now = role === Role.Leader;
    if (now === leading) return;
    leading = now;
    for (const c of controllers) {
      if (now) c.start();
      else c.stop();
    }
  };
  node.on('role', onRole);
  onRole(node.status().role);

  const leaderOnly = (): void => {
    if (!node.isLeader) throw new Error(`member ${id} is not the leader`);
  };
  const handlers: Handlers = {
    status: () => ({
      id,
      pid: process.pid,
      leader: node.isLeader,
      applied: store.appliedIndex,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      rssBytes: process.memoryUsage().rss,
      raft: node.metrics(),
    }),
    init: async (a: { nodes: number }) => {
      leaderOnly();
      return initCluster(store, a.nodes);
    },
    agents: () => {
      leaderOnly();
      return { agents: attachAgents(store, log).agents };
    },
    run: async (a: { replicas: number; agents: boolean }) => {
      leaderOnly();
      const watch = watchService(store, `svc-bench`, a.replicas, a.agents);
      const created = await createService(store, 'bench', a.replicas);
      return { created, phases: await watch };
    },
    // A follower sees the same events as it applies the leader's entries: when did it have it all?
    observe: (a: { replicas: number }) => watchService(store, 'svc-bench', a.replicas, false),
    reference: () => referencePass(store, 'svc-bench'),
  };
  serve(handlers);
  process.send!({ ready: true, id, pid: process.pid });

  const shutdown = (): void => {
    for (const c of controllers) c.stop();
    void node.stop().finally(() => {
      server.forceShutdown();
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('disconnect', shutdown);
}

main().catch((err: unknown) => {
  console.error(`member ${id}: ${(err as Error).stack}`);
  process.exit(1);
});
