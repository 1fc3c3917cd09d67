// A client of the test KV service that finds the leader by itself: it follows NotLeader redirects and,
// when a member is down or has no leader, moves on to the next member until the operation's deadline.
import * as grpc from '@grpc/grpc-js';
import { kvCalls, newKvGrpcClient, type KvGrpcClient, type KvStatus } from './kv-proto.js';

export interface KvClientOptions {
  /** Per attempt; a write that timed out may still have happened, and is retried (puts are idempotent). */
  attemptTimeoutMs?: number;
  /** For the whole operation, retries included. */
  deadlineMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One member's channel and its calls. */
interface Member {
  client: KvGrpcClient;
  calls: ReturnType<typeof kvCalls>;
}

export class KvClient {
  private readonly members = new Map<string, Member>();
  private target: string;
  private next = 0;
  private readonly attemptTimeoutMs: number;
  private readonly deadlineMs: number;

  constructor(
    private readonly addrs: string[],
    opts: KvClientOptions = {},
  ) {
    this.target = addrs[0]!;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2_000;
    this.deadlineMs = opts.deadlineMs ?? 15_000;
  }

  private calls(addr: string): Member['calls'] {
    let m = this.members.get(addr);
    if (!m) {
      const client = newKvGrpcClient(addr);
      m = { client, calls: kvCalls(client) };
      this.members.set(addr, m);
    }
    return m.calls;
  }

  put(key: string, value: Uint8Array): Promise<{ index: number }> {
    return this.withLeader((c) => c.put({ key, value }, this.attemptTimeoutMs));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const res = await this.withLeader((c) => c.get({ key }, this.attemptTimeoutMs));
    return res.found ? res.value : undefined;
  }

  /** Everything one member has applied, read locally. */
  async dump(addr: string): Promise<{ applied: number; data: Map<string, Buffer> }> {
    const res = await this.calls(addr).dump({}, 10_000);
    return { applied: res.applied, data: new Map(res.kvs.map((kv) => [kv.key, Buffer.from(kv.value)])) };
  }

  status(addr: string, timeoutMs = 1_000): Promise<KvStatus> {
    return this.calls(addr).status({}, timeoutMs);
  }

  /** The member currently believed to lead (where operations go first). */
  get currentTarget(): string {
    return this.target;
  }

  private async withLeader<T>(op: (c: Member['calls']) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      try {
        return await op(this.calls(this.target));
      } catch (err) {
        const e = err as grpc.ServiceError;
        if (Date.now() > deadline) throw err;
        const leaderAddr = e.metadata?.get('leader-addr')[0];
        if (e.code === grpc.status.FAILED_PRECONDITION && typeof leaderAddr === 'string' && leaderAddr) {
          this.target = leaderAddr;
          continue;
        }
        if (e.code === grpc.status.FAILED_PRECONDITION || e.code === grpc.status.UNAVAILABLE) {
          // No leader known there, or the member is down: try the next one shortly.
          this.target = this.addrs[this.next++ % this.addrs.length]!;
          await sleep(20);
          continue;
        }
        if (e.code === grpc.status.DEADLINE_EXCEEDED || e.code === grpc.status.ABORTED) continue;
        throw err;
      }
    }
  }

  close(): void {
    for (const m of this.members.values()) m.client.close();
    this.members.clear();
  }
}
