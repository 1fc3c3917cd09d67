// The KV service's HTTP/1.1 JSON write endpoint, shaped like etcd's gRPC gateway
// (`POST /v3/kv/put` with base64 `key` and `value`), so the benchmark can drive swarmlite and etcd
// with one HTTP client. Only the leader accepts writes; others answer 503 naming the leader.
import { createServer, type Server } from 'node:http';
import type { RaftNode } from '../node/raft-node.js';
import { encodePut } from './kv-state-machine.js';

/** What the endpoint writes through: a member's RaftNode, or the benchmark's floor (floor-server.ts). */
export type KvWriter = Pick<RaftNode, 'isLeader' | 'leader'> & {
  propose(data: Uint8Array): Promise<{ index: number }>;
};

function reply(res: import('node:http').ServerResponse, status: number, body: object): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

export function startKvHttp(node: KvWriter, listen: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v3/kv/put') return reply(res, 404, { error: 'not found' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let key: string;
      let value: Buffer;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key?: string; value?: string };
        key = Buffer.from(body.key ?? '', 'base64').toString('utf8');
        value = Buffer.from(body.value ?? '', 'base64');
      } catch {
        return reply(res, 400, { error: 'body must be JSON {key, value} in base64' });
      }
      if (!node.isLeader) return reply(res, 503, { error: 'not leader', leader: node.leader });
      node.propose(encodePut(key, value)).then(
        (r) => reply(res, 200, { index: r.index }),
        (err: unknown) => reply(res, 503, { error: (err as Error).message, leader: node.leader }),
      );
    });
  });
  const sep = listen.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(listen.slice(sep + 1)), listen.slice(0, sep), () => resolve(server));
  });
}
