// Test helpers: RaftNode members on the real transport (loopback gRPC) with in-memory storage and a
// list state machine, shared by the node's tests and the manager's read tests (read-index.test.ts).
import { eventually as until, freePorts } from '../../../test/support.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MemoryStorage } from '../core/index.js';
import type { AuthorizeFn } from '../transport/transport.js';
import type { ConfState, Entry, RaftId, Snapshot } from '../types.js';
import { newRawNode } from './core-binding.js';
import { RaftNode, type BootstrapMember } from './raft-node.js';
import type { StateMachine } from './state-machine.js';
import type { NodeStorage, PersistBatch } from './storage.js';

/**
 * NodeStorage over the core's MemoryStorage. As the real storages do, reads reflect a save at once and
 * the save resolves (is durable) on a later turn; while `held`, saves resolve only on release().
 */
export class MemNodeStorage implements NodeStorage {
  readonly mem = new MemoryStorage();
  saves = 0;
  held = false;
  private readonly waiting: Array<() => void> = [];
  initialState = () => this.mem.initialState();
  entries = (lo: number, hi: number, max: number) => this.mem.entries(lo, hi, max);
  term = (i: number) => this.mem.term(i);
  firstIndex = () => this.mem.firstIndex();
  lastIndex = () => this.mem.lastIndex();
  snapshot = () => this.mem.snapshot();
  async save(b: PersistBatch): Promise<void> {
    this.saves++;
    if (b.snapshot) this.mem.applySnapshot(b.snapshot);
    this.mem.append(b.entries);
    if (b.hardState) this.mem.setHardState(b.hardState);
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else await nextTurn();
  }
  /** Lands the held saves, in order, and stops holding. */
  release(): void {
    this.held = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    return this.mem.createSnapshot(index, cs, data);
  }
  compact(index: number): void {
    this.mem.compact(index);
  }
  close(): void {}
}

/** Appends every applied payload; its snapshot is the JSON of that list. */
export class ListMachine implements StateMachine {
  items: string[] = [];
  apply(e: Entry): number {
    this.items.push(Buffer.from(e.data).toString());
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(Buffer.from(data).toString()) as string[];
  }
}

export interface Member {
  id: RaftId;
  node: RaftNode;
  sm: ListMachine;
  storage: MemNodeStorage;
}

/** Starts member `id`; pass `reopen` to restart it on the storage and state machine of a stopped run. */
export async function startMember(
  id: RaftId,
  bootstrap: BootstrapMember[] | undefined,
  snapshotEvery = 10_000,
  reopen?: { storage: MemNodeStorage; sm: ListMachine },
  authorize?: AuthorizeFn,
): Promise<Member> {
  const sm = reopen?.sm ?? new ListMachine();
  const storage = reopen?.storage ?? new MemNodeStorage();
  const port = bootstrap?.find((m) => m.id === id)?.addr.split(':')[1] ?? '0';
  const node = await RaftNode.create({
    id,
    storage,
    stateMachine: sm,
    createCore: newRawNode,
    transport: { listen: `127.0.0.1:${port}`, authorize },
    bootstrap,
    tickMs: 10,
    snapshotEveryEntries: snapshotEvery,
    snapshotKeepEntries: 5,
    requestTimeoutMs: 3000,
  });
  return { id, node, sm, storage };
}

/** Three members on loopback, once one leads; `authorize` (by member id) screens each one's incoming calls. */
export async function threeMembers(snapshotEvery?: number, authorize?: (id: RaftId) => AuthorizeFn) {
  const ports = await freePorts(3);
  const boot = ports.map((p, i) => ({ id: i + 1, addr: `127.0.0.1:${p}` }));
  const members = await Promise.all(
    boot.map((b) => startMember(b.id, boot, snapshotEvery, undefined, authorize?.(b.id))),
  );
  const leader = await until('a leader', () => members.find((m) => m.node.isLeader));
  return { boot, members, leader, stop: () => Promise.all(members.map((m) => m.node.stop())) };
}
