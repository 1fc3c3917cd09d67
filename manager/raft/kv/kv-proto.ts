// The test KV service's contract (kv.proto beside this file's source) and etcd's two RPCs the benchmark
// calls (etcd-kv.proto), loaded at run time and typed by what api/generate.js generated from them with
// the same options (manager/raft/kv/loader-options.json) into gen/.
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { unaryCalls } from '../../../api/calls.js';
import { loadProto } from '../../../api/rpc.js';
import { findUp } from '../transport/proto.js';
import type { ProtoGrpcType as EtcdProto } from './gen/etcd-kv.js';
import type { ProtoGrpcType as KvProto } from './gen/kv.js';
import type { KvClient as KvGrpcClient } from './gen/swarmlite/testkv/Kv.js';
import type { StatusResponse__Output } from './gen/swarmlite/testkv/StatusResponse.js';

export type { KvGrpcClient };
export type { KvHandlers } from './gen/swarmlite/testkv/Kv.js';
export type { KVClient as EtcdKvClient } from './gen/etcdserverpb/KV.js';

/** A member's Status answer: its Raft state, pid and metrics. */
export type KvStatus = StatusResponse__Output;

/** The folder of kv.proto and etcd-kv.proto (in the source tree; tsc does not copy them). */
const kvDir = () => dirname(findUp(join('manager', 'raft', 'kv', 'kv.proto')));

/** The Kv service's client constructor; `.service` is its definition, for `server.addService`. */
export const kvService = () => loadProto<KvProto>('kv.proto', kvDir()).swarmlite.testkv.Kv;

/** etcd's KV and Maintenance services. Member ids are random 64-bit numbers: strings, to compare exactly. */
export const etcdServices = () => loadProto<EtcdProto>('etcd-kv.proto', kvDir()).etcdserverpb;

export function newKvGrpcClient(addr: string): KvGrpcClient {
  const Kv = kvService();
  return new Kv(addr, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 300,
    'grpc.enable_channelz': 0,
  });
}

/** The Kv service's calls as promises: `kvCalls(client).put({ key, value }, timeoutMs)`. */
export const kvCalls = (client: KvGrpcClient) => unaryCalls(client, kvService().service);
