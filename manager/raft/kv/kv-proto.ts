// Loads the test KV service's contract (kv.proto beside this file's source).
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { loaderOptions } from '../../../api/rpc.js';
import { findUp } from '../transport/proto.js';

let cached: grpc.ServiceDefinition | undefined;

export function kvServiceDefinition(): grpc.ServiceDefinition {
  if (!cached) {
    const file = findUp(join('manager', 'raft', 'kv', 'kv.proto'));
    // Decoded as raft.proto is: the KV test service carries the same kinds of fields.
    cached = protoLoader.loadSync(file, loaderOptions('raft.proto'))[
      'swarmlite.testkv.Kv'
    ] as grpc.ServiceDefinition;
  }
  return cached;
}

export interface KvStatus {
  id: number;
  term: number;
  role: string;
  leader: number;
  leaderAddr: string;
  commit: number;
  applied: number;
  pid: number;
  metrics: string;
}

type Unary<Req, Res> = (
  req: Req,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

export type KvGrpcClient = grpc.Client & {
  Put: Unary<{ key: string; value: Uint8Array }, { index: number }>;
  Get: Unary<{ key: string }, { found: boolean; value: Uint8Array }>;
  Dump: Unary<object, { applied: number; kvs: Array<{ key: string; value: Uint8Array }> }>;
  Status: Unary<object, KvStatus>;
};

export function newKvGrpcClient(addr: string): KvGrpcClient {
  const Client = grpc.makeGenericClientConstructor(kvServiceDefinition(), 'Kv');
  return new Client(addr, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 300,
    'grpc.enable_channelz': 0,
  }) as unknown as KvGrpcClient;
}
