#!/usr/bin/env node
// A member of the test KV service: one process, one RaftNode, one gRPC port for both Raft and the
// client API (kv.proto). Used by the kill-leader test and the Raft benchmark.
//
//   node dist/manager/raft/kv/kv-server.js --id 1 --listen 127.0.0.1:23001 \
//     --peers 1=127.0.0.1:23001,2=127.0.0.1:23002,3=127.0.0.1:23003 --data /tmp/kv1 [--http 127.0.0.1:24001]
//     [--storage lmdb|wal|wal-inline]   (wal-inline: WAL appends on the event loop's thread)
//
// With an empty data dir the member bootstraps a new cluster of exactly --peers (every member gets
// the same list); without --peers it waits to be added to an existing cluster. Prints one JSON line
// {"ready":true,...} once it serves.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { openRaftNode } from '../node/open.js';
import { NotLeaderError, RaftTimeoutError } from '../node/errors.js';
import { ProposalDroppedError } from '../types.js';
import type { RaftNode } from '../node/raft-node.js';
import { startKvHttp } from './kv-http.js';
import { kvService, type KvHandlers } from './kv-proto.js';
import { encodePut, KvStateMachine } from './kv-state-machine.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    listen: { type: 'string' },
    peers: { type: 'string' },
    data: { type: 'string' },
    'tick-ms': { type: 'string' },
    'snapshot-every': { type: 'string' },
    http: { type: 'string' },
    storage: { type: 'string' },
  },
});
const LAYOUTS = ['lmdb', 'wal', 'wal-inline'];
if (values.storage !== undefined && !LAYOUTS.includes(values.storage)) {
  console.error(`kv-server: --storage must be one of ${LAYOUTS.join(', ')}, not ${values.storage}`);
  process.exit(2);
}
if (!values.id || !values.listen || !values.data) {
  console.error('usage: kv-server --id N --listen HOST:PORT --data DIR [--peers ID=HOST:PORT,...]');
  process.exit(2);
}
const id = Number(values.id);
const listen = values.listen;
const peers = values.peers
  ? values.peers.split(',').map((p) => {
      const [pid, addr] = p.split('=');
      return { id: Number(pid), addr: addr! };
    })
  : undefined;

function toGrpcError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof NotLeaderError) {
    const metadata = new grpc.Metadata();
    metadata.set('leader-addr', err.leaderAddr);
    return { code: grpc.status.FAILED_PRECONDITION, details: err.message, metadata };
  }
  if (err instanceof RaftTimeoutError) return { code: grpc.status.DEADLINE_EXCEEDED, details: err.message };
  if (err instanceof ProposalDroppedError) return { code: grpc.status.ABORTED, details: err.message };
  return { code: grpc.status.UNAVAILABLE, details: (err as Error).message };
}

function notLeader(node: RaftNode): NotLeaderError {
  const leader = node.leader;
  return new NotLeaderError(leader.id, leader.addr);
}

async function main(): Promise<void> {
  const sm = new KvStateMachine();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.enable_channelz': 0,
  });
  const node = await openRaftNode({
    id,
    dataDir: values.data!,
    stateMachine: sm,
    transport: { server, advertiseAddr: listen },
    ...(peers && { bootstrap: peers }),
    ...(values['tick-ms'] && { tickMs: Number(values['tick-ms']) }),
    ...(values['snapshot-every'] && { snapshotEveryEntries: Number(values['snapshot-every']) }),
    ...(values.storage && { storage: values.storage === 'lmdb' ? 'lmdb' : 'wal' }),
    inlineWalAppends: values.storage === 'wal-inline',
    requestTimeoutMs: 5_000,
  });
  node.on('fatal', (err) => {
    console.error(`kv-server ${id}: fatal: ${(err as Error).stack}`);
    process.exit(1);
  });
  const handlers: KvHandlers = {
    Put(call, cb) {
      if (!node.isLeader) return cb(toGrpcError(notLeader(node)));
      node.propose(encodePut(call.request.key, call.request.value)).then(
        (r) => cb(null, { index: r.index }),
        (err) => cb(toGrpcError(err)),
      );
    },
    Get(call, cb) {
      if (!node.isLeader) return cb(toGrpcError(notLeader(node)));
      node.readIndex().then(
        () => {
          const value = sm.data.get(call.request.key);
          cb(null, value ? { found: true, value } : { found: false });
        },
        (err) => cb(toGrpcError(err)),
      );
    },
    Dump(_call, cb) {
      const kvs = [...sm.data].map(([key, value]) => ({ key, value }));
      cb(null, { applied: node.status().applied, kvs });
    },
    Status(_call, cb) {
      const s = node.status();
      cb(null, { ...s, pid: process.pid, metrics: JSON.stringify(node.metrics()) });
    },
  };
  server.addService(kvService().service, handlers);
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  const http = values.http ? await startKvHttp(node, values.http) : undefined;
  console.log(JSON.stringify({ ready: true, id, pid: process.pid, addr: listen }));
  const shutdown = (): void => {
    void node.stop().finally(() => {
      server.forceShutdown();
      http?.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  console.error(`kv-server ${id}: ${(err as Error).stack}`);
  process.exit(1);
});
