// The two client styles the benchmark drives both systems with. Each is the same code for swarmlite
// and etcd: only the address (and, for gRPC, the system's typed Put call) differs.
import { Agent, request } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { PutFn } from './bench-load.js';

export type ClientStyle = 'grpc' | 'http';

export interface BenchClient {
  put: PutFn;
  close(): void;
}

/**
 * Unary `Put` on one gRPC channel (HTTP/2, requests multiplexed): `put` is the system's generated call
 * on `channel` (kv-proto.ts), answered or failed.
 */
export function grpcClient(
  channel: grpc.Client,
  put: (key: string, value: Uint8Array) => Promise<unknown>,
): BenchClient {
  return {
    put: async (key, value) => {
      await put(key, value);
    },
    close: () => channel.close(),
  };
}

/**
 * `POST /v3/kv/put` with JSON `{key, value}` in base64: etcd's gRPC gateway, and the same endpoint on
 * the swarmlite test KV (kv-http.ts). Keep-alive connections, one per concurrent request.
 */
export function httpClient(addr: string, concurrency: number): BenchClient {
  const sep = addr.lastIndexOf(':');
  const host = addr.slice(0, sep);
  const port = Number(addr.slice(sep + 1));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  return {
    put: (key, value) =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({
          key: Buffer.from(key).toString('base64'),
          value: Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64'),
        });
        const req = request(
          {
            host,
            port,
            path: '/v3/kv/put',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`put: HTTP ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}
