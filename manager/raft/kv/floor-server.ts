#!/usr/bin/env node
// The benchmark's floor: the test KV service's two write endpoints, the gRPC `Put` (grpc-js, as a
// member serves it) and the HTTP `POST /v3/kv/put` (kv-http.ts), answered at once, with no Raft and no
// disk behind them. What a write costs here is what the client and the server's RPC layer cost alone;
// bench:raft prints it beside etcd's whole write, so a run shows how much of etcd's time is left for
// consensus once swarmlite's RPC layer has taken its share.
//
//   node dist/manager/raft/kv/floor-server.js --listen 127.0.0.1:23001 --http 127.0.0.1:24001
//
// Prints one JSON line {"ready":true,...} once it serves; SIGTERM stops it.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { startKvHttp, type KvWriter } from './kv-http.js';
import { kvService, type KvHandlers } from './kv-proto.js';

const { values } = parseArgs({ options: { listen: { type: 'string' }, http: { type: 'string' } } });
if (!values.listen || !values.http) {
  console.error('usage: floor-server --listen HOST:PORT --http HOST:PORT');
  process.exit(2);
}
const listen = values.listen;

/** Accepts every write at once, numbering them as a log would. */
function floorWriter(): KvWriter {
  let index = 0;
  return {
    isLeader: true,
    leader: { id: 0, addr: '' },
    propose: () => Promise.resolve({ index: ++index }),
  };
}

async function main(): Promise<void> {
  const writer = floorWriter();
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<never>): void =>
    cb({ code: grpc.status.UNIMPLEMENTED, details: 'the floor server answers Put only' });
  const handlers: KvHandlers = {
    // As a member's Put: the answer follows a propose() promise, here one that is already settled
    // (and never rejected).
    Put(_call, cb) {
      void writer.propose(new Uint8Array(0)).then((r) => cb(null, { index: r.index }));
    },
    Get: unimplemented,
    Dump: unimplemented,
    Status: unimplemented,
  };
  server.addService(kvService().service, handlers);
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  const http = await startKvHttp(writer, values.http!);
  console.log(JSON.stringify({ ready: true, pid: process.pid, addr: listen }));
  const shutdown = (): void => {
    server.forceShutdown();
    http.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  console.error(`floor-server: ${(err as Error).stack}`);
  process.exit(1);
});
