// The simulation's replicated state machine: a tiny key-value store with put/get/cas, plus a rolling
// hash of every applied entry so replicas can be compared cheaply at any index (state machine safety).

import type { ConfState } from '../types.js';

export interface KvCommand {
  /** Request id, unique per simulation: the proposing member answers the client when it applies it. */
  req: number;
  kind: 'put' | 'get' | 'cas';
  key: string;
  value?: string;
  /** cas: the expected value; absent means "the key must be absent". */
  expected?: string;
}

export type KvOutput = string | null | boolean | undefined;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(data)) as KvCommand;
}

export class KvStore {
  private data = new Map<string, string>();
  private results = new Map<number, KvOutput>();
  /** Index of the last entry applied (or of the snapshot the state came from). */
  applied = 0;
  /** FNV-1a over every applied entry's (index, bytes): equal hashes at an index mean equal histories. */
  hash = 0x811c9dc5;
  confState: ConfState = { voters: [], learners: [] };

  /** Records that entry `index` was applied (whatever it was) and folds it into the hash. */
  advance(index: number, data: Uint8Array): void {
    if (index !== this.applied + 1) throw new Error(`kv: applying ${index} after ${this.applied}`);
    this.applied = index;
    let h = this.hash ^ index;
    h = Math.imul(h, 0x01000193) >>> 0;
    for (const b of data) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    this.hash = h;
  }

  /**
   * Applies a command once. The same command can reach the log twice (a forwarded proposal duplicated
   * by the network, or a client retry), so results are remembered by request id and replayed —
   * the session table of the Raft dissertation (§6.3) that makes commands exactly-once.
   */
  execute(c: KvCommand): KvOutput {
    if (this.results.has(c.req)) return this.results.get(c.req);
    const out = this.executeOnce(c);
    this.results.set(c.req, out);
    return out;
  }

  private executeOnce(c: KvCommand): KvOutput {
    const current = this.data.get(c.key);
    switch (c.kind) {
      case 'put':
        this.data.set(c.key, c.value!);
        return undefined;
      case 'get':
        return current ?? null;
      case 'cas':
        if (current !== c.expected) return false;
        this.data.set(c.key, c.value!);
        return true;
    }
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  serialize(): Uint8Array {
    return enc.encode(
      JSON.stringify({
        data: [...this.data],
        results: [...this.results],
        applied: this.applied,
        hash: this.hash,
        confState: this.confState,
      }),
    );
  }

  static deserialize(bytes: Uint8Array): KvStore {
    const kv = new KvStore();
    if (bytes.byteLength === 0) return kv; // the bootstrap snapshot's empty state
    const o = JSON.parse(dec.decode(bytes)) as {
      data: [string, string][];
      results: [number, KvOutput][];
      applied: number;
      hash: number;
      confState: ConfState;
    };
    kv.data = new Map(o.data);
    kv.results = new Map(o.results);
    kv.applied = o.applied;
    kv.hash = o.hash;
    kv.confState = o.confState;
    return kv;
  }
}
